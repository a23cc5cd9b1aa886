import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { IngestSink } from '../events/sink.js';
import { MARK, TRACE } from '../lib/latency-trace.js';
import type { Logger } from '../log.js';
import type { IngestRejectReason, Metrics } from '../metrics/registry.js';
import type { IngestEndpointConfig, RecorderConfig } from '../recorder-config/schema.js';
import { checkAuth } from './auth.js';
import { type BodyResult, isJsonContentType, readBody } from './body.js';
import { Deduper } from './dedupe.js';
import { discardThenClose } from './discard.js';
import type { IngestEndpoint } from './endpoints.js';
import type { EndpointMeter } from './metering.js';
import { ACCEPTED_ONE, jsonReply, RETRY_AFTER, type Reply, SHUTTING_DOWN, send } from './reply.js';
import { UnrecognizedLog } from './unrecognized.js';

export interface IngestPipelineDeps {
  metrics: Metrics;
  logger: Logger;
  /** The recorder's intake: stamps and queues the drafts, and stands for its room and durability. */
  intake: IngestSink;
  /** The live config: auth, limits, `on_queue_full` and `acknowledgements` apply to the next request. */
  config: () => RecorderConfig;
  /** Shutdown has begun: answer 503. */
  draining: () => boolean;
  /** A handler threw (a bug): log it and answer 500 if still possible. */
  failed: (req: IncomingMessage, res: ServerResponse, err: unknown) => void;
}

/**
 * One ingest request, from the headers to the answer: endpoint enabled, auth, content type,
 * room, body, parse, dedupe, hand the drafts to the intake (which stamps and queues them), and (with `acknowledgements: true`) waiting until the
 * events are durable in every `when_full: block` output before answering 202.
 * Synchronous up to the body read: the ingest path allocates no promise per request unless
 * it waits for an acknowledgement.
 */
export class IngestPipeline {
  private readonly dedupe: Deduper;
  private readonly unrecognized: UnrecognizedLog;

  constructor(private readonly deps: IngestPipelineDeps) {
    this.dedupe = new Deduper(deps.metrics);
    this.unrecognized = new UnrecognizedLog(deps.logger);
  }

  handle(endpoint: IngestEndpoint, meter: EndpointMeter, req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const config = this.deps.config();
    const endpointConfig: IngestEndpointConfig = endpoint.config(config);
    if (!endpointConfig.enabled) {
      req.resume();
      this.answer(
        meter,
        started,
        res,
        jsonReply(404, { error: `${endpoint.path} is disabled in the configuration` }),
      );
      return;
    }
    if (this.deps.draining()) {
      req.resume();
      this.answer(meter, started, res, SHUTTING_DOWN);
      return;
    }
    const auth = checkAuth(endpointConfig.auth, req.headers.authorization);
    if (!auth.ok) {
      req.resume();
      this.reject(meter, started, res, 'unauthorized', 401, 'unauthorized', [
        'www-authenticate',
        auth.challenge,
      ]);
      return;
    }
    if (!isJsonContentType(req.headers['content-type'])) {
      req.resume();
      const given = req.headers['content-type'] ?? 'none';
      this.reject(
        meter,
        started,
        res,
        'unsupported_media_type',
        415,
        `Content-Type must be application/json, got ${given}`,
      );
      return;
    }
    const { intake } = this.deps;
    const blocked = intake.unavailable();
    if (blocked) {
      // Readiness says the same: a `block` output that cannot write would leave these events
      // queued without an acknowledgement, so refuse them now and let the sender retry.
      req.resume();
      this.reject(
        meter,
        started,
        res,
        'output_blocked',
        503,
        `output ${blocked.name} cannot write (when_full: block); retry later`,
        RETRY_AFTER,
      );
      return;
    }
    if (config.onQueueFull === 'reject' && intake.full) {
      // Refused before the body is parsed: under overload, parsing what will be refused anyway
      // would take the CPU the write loop needs to make room. The body is read and discarded.
      req.resume();
      this.queueFull(meter, started, res);
      return;
    }
    readBody(req, config.maxBodyBytes, (body) => {
      try {
        this.ingestBody(endpoint, meter, started, config, req, res, body);
      } catch (err) {
        this.deps.failed(req, res, err);
      }
    });
  }

  private ingestBody(
    endpoint: IngestEndpoint,
    meter: EndpointMeter,
    started: number,
    config: RecorderConfig,
    req: IncomingMessage,
    res: ServerResponse,
    body: BodyResult,
  ): void {
    if (!body.ok) {
      if (body.reason === 'aborted') {
        // The client went away mid-body: nothing to answer, nothing was parsed or recorded.
        meter.request('aborted').inc();
        return;
      }
      // Answer at once; what keeps arriving is discarded up to a bound, then the connection is cut.
      this.reject(
        meter,
        started,
        res,
        'too_large',
        413,
        `request body exceeds max_body_bytes (${config.maxBodyBytes} bytes)`,
      );
      discardThenClose(req);
      return;
    }
    // toString would turn broken bytes into U+FFFD and record text the sender never sent; no
    // genuine sender (Go's encoding/json) produces them. Native and allocation-free.
    if (!isUtf8(body.body)) {
      this.reject(meter, started, res, 'invalid_json', 400, 'invalid JSON: the body is not valid UTF-8');
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.body.toString('utf8'));
    } catch (err) {
      this.reject(meter, started, res, 'invalid_json', 400, `invalid JSON: ${(err as Error).message}`);
      return;
    }
    const { intake } = this.deps;
    const count = endpoint.count(parsed);
    if (count > intake.capacity) {
      this.tooManyEvents(meter, started, res, count);
      return;
    }
    const result = endpoint.parse(parsed);
    if (!result.ok) {
      this.reject(meter, started, res, 'invalid_payload', 400, result.error);
      return;
    }

    const now = Date.now();
    const batch = this.dedupe.select(result.drafts, config.dedupe, now);
    const drafts = batch.fresh;
    const outcome = intake.acceptAll(drafts, now);
    switch (outcome) {
      case 'accepted':
        this.dedupe.commit(batch, config.dedupe, now);
        this.unrecognized.note(endpoint.name, drafts, now);
        this.accepted(meter, started, config, res, drafts.length, batch.copies);
        return;
      case 'too_large':
        this.tooManyEvents(meter, started, res, drafts.length);
        return;
      case 'stopped':
        this.answer(meter, started, res, SHUTTING_DOWN);
        return;
      case 'queue_full':
        if (config.onQueueFull === 'drop') {
          intake.dropped('queue_full', drafts.length);
          this.answer(meter, started, res, jsonReply(202, { accepted: 0, dropped: drafts.length }));
          return;
        }
        this.queueFull(meter, started, res);
        return;
    }
  }

  /**
   * 202 now (`acknowledgements: false`, or no `block` output), or once the events are durable.
   * A request whose events are lost or not durable in time gets 503: the sender retries, and
   * the events that did reach the file then appear twice (same `dedup_key`).
   */
  private accepted(
    meter: EndpointMeter,
    started: number,
    config: RecorderConfig,
    res: ServerResponse,
    n: number,
    copies: number,
  ): void {
    const ok =
      copies > 0
        ? jsonReply(202, { accepted: n, deduplicated: copies })
        : n === 1
          ? ACCEPTED_ONE
          : jsonReply(202, { accepted: n });
    const durable =
      config.acknowledgements && n > 0
        ? this.deps.intake.whenDurable(this.deps.intake.accepted, config.acknowledgementTimeoutMs)
        : null;
    const traceSeq = TRACE ? this.deps.intake.accepted : 0;
    if (TRACE) {
      TRACE.mark(MARK.requestStart, traceSeq, started);
      TRACE.mark(MARK.accepted, traceSeq);
    }
    if (!durable) {
      this.answer(meter, started, res, ok);
      TRACE?.mark(MARK.answered, traceSeq);
      return;
    }
    durable.then((outcome) => {
      TRACE?.mark(MARK.answered, traceSeq);
      if (res.destroyed) {
        // The sender gave up (its own timeout) and will retry; nothing to answer.
        meter.request('aborted').inc();
        return;
      }
      if (outcome === 'written') {
        this.answer(meter, started, res, ok);
        return;
      }
      const why =
        outcome === 'timeout'
          ? `events accepted but not yet written within acknowledgement_timeout (${config.acknowledgementTimeoutMs} ms); retry later`
          : 'events accepted but an output lost them before writing; retry later';
      this.reject(meter, started, res, 'not_durable', 503, why, RETRY_AFTER);
    });
  }

  /** 503 with Retry-After: senders (Alertmanager, Coroot) retry later. */
  private queueFull(meter: EndpointMeter, started: number, res: ServerResponse): void {
    this.reject(meter, started, res, 'queue_full', 503, 'queue full, retry later', RETRY_AFTER);
  }

  /** All or nothing: a request that alone would overfill the queue is refused whole (no retry helps). */
  private tooManyEvents(meter: EndpointMeter, started: number, res: ServerResponse, count: number): void {
    this.reject(
      meter,
      started,
      res,
      'queue_full',
      413,
      `request carries ${count} events, more than the whole queue (queue_size ${this.deps.intake.capacity})`,
    );
  }

  private answer(meter: EndpointMeter, started: number, res: ServerResponse, r: Reply): void {
    send(res, r);
    meter.request(r.status).inc();
    meter.duration.observe((performance.now() - started) / 1000);
  }

  private reject(
    meter: EndpointMeter,
    started: number,
    res: ServerResponse,
    reason: IngestRejectReason,
    status: number,
    error: string,
    headers?: readonly string[],
  ): void {
    meter.rejection(reason).inc();
    this.answer(meter, started, res, jsonReply(status, { error }, headers));
  }
}
