import { isUtf8 } from 'node:buffer';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { ServerConfig, ServerTlsConfig } from '../config/server.js';
import type { EventDraft, RecorderEvent } from '../events/event.js';
import type { EventFactory } from '../events/factory.js';
import type { Logger } from '../log.js';
import type { CounterCell, HistogramCell } from '../metrics/cells.js';
import type { IngestRejectReason, Metrics } from '../metrics/registry.js';
import { Deduper } from '../recorder/dedupe.js';
import type { Recorder } from '../recorder/recorder.js';
import type { IngestEndpointConfig, RecorderConfig } from '../recorder-config/schema.js';
import { checkAuth } from './auth.js';
import { type BodyResult, isJsonContentType, readBody } from './body.js';
import { alertmanagerEndpoint, corootEndpoint, type IngestEndpoint } from './endpoints.js';
import { UnrecognizedLog } from './unrecognized.js';

export interface Readiness {
  ready: boolean;
  reason?: string;
}

export type ReloadOutcome = { ok: true } | { ok: false; error: string };

export interface IngestServerDeps {
  metrics: Metrics;
  logger: Logger;
  recorder: Recorder;
  factory: EventFactory;
  /**
   * The live config: auth, limits and `on_queue_full` apply to the next request after a reload.
   * Its `server` section at construction decides http or https (see `reconfigure` for reloads).
   */
  config: () => RecorderConfig;
  readiness: () => Readiness;
  /** `POST /-/reload`; absent → 404. */
  reload?: () => Promise<ReloadOutcome>;
}

/** A complete HTTP answer: status, headers as flat name/value pairs, body text. */
interface Reply {
  readonly status: number;
  readonly headers: string[];
  readonly text: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

function reply(status: number, contentType: string, text: string, extra: readonly string[] = []): Reply {
  return {
    status,
    headers: ['content-type', contentType, 'content-length', String(Buffer.byteLength(text)), ...extra],
    text,
  };
}

function jsonReply(status: number, body: object, extra?: readonly string[]): Reply {
  return reply(status, JSON_TYPE, JSON.stringify(body), extra);
}

function send(res: ServerResponse, r: Reply): void {
  res.writeHead(r.status, r.headers);
  res.end(r.text);
}

/** The answer to almost every ingest request, prepared once: `{"accepted":1}`. */
const ACCEPTED_ONE = jsonReply(202, { accepted: 1 });
const SHUTTING_DOWN = jsonReply(503, { error: 'shutting down' }, ['retry-after', '1', 'connection', 'close']);
const RETRY_AFTER = ['retry-after', '1'];

/** One endpoint's metric cells, looked up once instead of per request. */
class EndpointMeter {
  readonly duration: HistogramCell;
  private readonly requests = new Map<number | 'aborted', CounterCell>();
  private readonly rejected = new Map<IngestRejectReason, CounterCell>();

  constructor(
    private readonly metrics: Metrics,
    private readonly endpoint: string,
  ) {
    this.duration = metrics.ingestDurationCell(endpoint);
  }

  request(code: number | 'aborted'): CounterCell {
    let cell = this.requests.get(code);
    if (!cell) {
      cell = this.metrics.ingestRequestsCell(this.endpoint, String(code));
      this.requests.set(code, cell);
    }
    return cell;
  }

  rejection(reason: IngestRejectReason): CounterCell {
    let cell = this.rejected.get(reason);
    if (!cell) {
      cell = this.metrics.ingestRejectedCell(this.endpoint, reason);
      this.rejected.set(reason, cell);
    }
    return cell;
  }
}

/**
 * The HTTP surface: ingest endpoints, /metrics and the /-/ endpoints. `node:http` with a
 * small route table (docs/architecture.md). Every failure is an answer, never a throw.
 */
export class IngestServer {
  private readonly server: Server | HttpsServer;
  /** The certificate being served; `null` on plain http. */
  private tls: ServerTlsConfig | null;
  /** By path: each ingest endpoint with its metric cells. */
  private readonly endpoints: ReadonlyMap<string, { endpoint: IngestEndpoint; meter: EndpointMeter }>;
  private draining = false;
  private readonly dedupe: Deduper;
  private readonly unrecognized: UnrecognizedLog;

  constructor(private readonly deps: IngestServerDeps) {
    this.dedupe = new Deduper(deps.metrics);
    this.unrecognized = new UnrecognizedLog(deps.logger);
    const endpoints = [corootEndpoint, alertmanagerEndpoint];
    this.endpoints = new Map(
      endpoints.map((e) => [e.path, { endpoint: e, meter: new EndpointMeter(deps.metrics, e.name) }]),
    );
    const settings = deps.config().server;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      try {
        this.route(req, res);
      } catch (err) {
        this.failed(req, res, err);
      }
    };
    const options: ServerOptions = {
      headersTimeout: settings.headersTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      keepAliveTimeout: settings.keepAliveTimeoutMs,
      // node:http checks both timeouts on this interval (default 30 s, so a 10 s headers
      // timeout could fire after 40 s): a timeout fires at most a second late.
      connectionsCheckingInterval: 1000,
    };
    this.tls = settings.tls;
    this.server = settings.tls
      ? createHttpsServer(
          {
            ...options,
            ...secureContextOptions(settings.tls),
            requestCert: settings.tls.clientCa !== null,
            rejectUnauthorized: settings.tls.clientCa !== null,
            // The handshake precedes the headers and their timeout: bound it the same way (tls's
            // default is 120 s), or a client that stalls mid-handshake holds a socket that long.
            handshakeTimeout: settings.headersTimeoutMs,
          },
          handler,
        )
      : createServer(options, handler);
    this.applyLimits(settings);
    // A client that sends garbage instead of HTTP, or too slowly (headers_timeout,
    // request_timeout), gets 400/431/408 and is disconnected, not a crash.
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (err.code !== 'ECONNRESET' && socket.writable && !answering(socket)) {
        const status = CLIENT_ERROR_STATUS[err.code ?? ''] ?? 400;
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
        );
      }
      // Closed once the answer is flushed: `end()` alone would leave the socket half-open (the
      // server allows that) for as long as a slow client cares to keep it.
      (socket as Socket).destroySoon();
    });
  }

  /** Whether the listener serves https (decided at start; switching needs a restart). */
  get scheme(): 'http' | 'https' {
    return this.tls ? 'https' : 'http';
  }

  /**
   * A reload's `server` section: timeouts, the connection cap and auth apply to the next
   * request; a renewed certificate (or client CA) to the next handshake. Switching between
   * http and https or mutual TLS on/off is the caller's to refuse (it needs a restart).
   * Returns whether a new certificate was installed.
   */
  reconfigure(next: ServerConfig): boolean {
    this.applyLimits(next);
    const tls = next.tls;
    if (tls === null || this.tls === null) return false;
    if (tls.cert === this.tls.cert && tls.key === this.tls.key && tls.clientCa === this.tls.clientCa) {
      return false;
    }
    (this.server as HttpsServer).setSecureContext(secureContextOptions(tls));
    this.tls = tls;
    return true;
  }

  private applyLimits(s: ServerConfig): void {
    this.server.headersTimeout = s.headersTimeoutMs;
    this.server.requestTimeout = s.requestTimeoutMs;
    this.server.keepAliveTimeout = s.keepAliveTimeoutMs;
    // net.Server refuses new sockets past this; no cap is "unset", which 0 would not be everywhere.
    this.server.maxConnections = s.maxConnections > 0 ? s.maxConnections : Number.POSITIVE_INFINITY;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Shutdown step 1: new ingest requests get 503, the listener closes, idle keep-alives go. */
  stopAccepting(): void {
    this.draining = true;
    this.server.close();
    this.server.closeIdleConnections();
  }

  /** Shutdown last step: drop whatever connections remain. */
  close(): void {
    this.draining = true;
    this.server.close();
    this.server.closeAllConnections();
  }

  /** A handler threw (a bug, never the input's fault): log it and answer 500 if still possible. */
  private failed(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    this.deps.logger.error('request handler failed', { err, path: pathOf(req) });
    if (!res.headersSent) send(res, jsonReply(500, { error: 'internal error' }));
    else res.destroy();
  }

  /** Synchronous up to the body read: the ingest path allocates no promise per request. */
  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req);
    const route = this.endpoints.get(path);
    if (route) {
      if (req.method !== 'POST') methodNotAllowed(res, 'POST');
      else this.ingest(route.endpoint, route.meter, req, res);
      return;
    }
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    switch (path) {
      case '/metrics':
        if (!this.authorized(req, res, false)) return;
        if (!readOnly) methodNotAllowed(res, 'GET, HEAD');
        else this.serveMetrics(res).catch((err: unknown) => this.failed(req, res, err));
        return;
      case '/-/healthy':
        if (!this.authorized(req, res, true)) return;
        if (!readOnly) methodNotAllowed(res, 'GET, HEAD');
        else sendText(res, 200, 'OK\n');
        return;
      case '/-/ready': {
        if (!this.authorized(req, res, true)) return;
        if (!readOnly) {
          methodNotAllowed(res, 'GET, HEAD');
          return;
        }
        const r = this.deps.readiness();
        sendText(res, r.ready ? 200 : 503, r.ready ? 'OK\n' : `not ready: ${r.reason ?? 'unknown'}\n`);
        return;
      }
      case '/-/reload':
        if (!this.deps.reload) break;
        if (!this.authorized(req, res, false)) return;
        if (req.method !== 'POST' && req.method !== 'PUT') methodNotAllowed(res, 'POST, PUT');
        else this.serveReload(req, res).catch((err: unknown) => this.failed(req, res, err));
        return;
    }
    req.resume();
    send(res, jsonReply(404, { error: `no route for ${path}` }));
  }

  /**
   * `server.auth` for /metrics and /-/ (the ingest endpoints check their own). Health probes
   * stay open unless `protect_health` is set. Answers 401 itself when the check fails.
   */
  private authorized(req: IncomingMessage, res: ServerResponse, health: boolean): boolean {
    const auth = this.deps.config().server.auth;
    if (auth === null || (health && !auth.protectHealth)) return true;
    const result = checkAuth(auth, req.headers.authorization);
    if (result.ok) return true;
    req.resume();
    send(res, jsonReply(401, { error: 'unauthorized' }, ['www-authenticate', result.challenge]));
    return false;
  }

  private ingest(
    endpoint: IngestEndpoint,
    meter: EndpointMeter,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
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
    if (this.draining) {
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
    if (config.onQueueFull === 'reject' && this.deps.recorder.full) {
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
        this.failed(req, res, err);
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
    const { recorder } = this.deps;
    const count = endpoint.count(parsed);
    if (count > recorder.capacity) {
      this.tooManyEvents(meter, started, res, count);
      return;
    }
    const result = endpoint.parse(parsed);
    if (!result.ok) {
      this.reject(meter, started, res, 'invalid_payload', 400, result.error);
      return;
    }

    const now = Date.now();
    const { factory } = this.deps;
    const batch = this.dedupe.select(result.drafts, config.dedupe, now);
    const drafts = batch.fresh;
    const events: RecorderEvent[] = new Array(drafts.length);
    for (let i = 0; i < drafts.length; i++) events[i] = factory.stamp(drafts[i] as EventDraft, now);
    const outcome = recorder.recordAll(events);
    switch (outcome) {
      case 'accepted':
        this.dedupe.commit(batch, config.dedupe, now);
        this.unrecognized.note(endpoint.name, drafts, now);
        this.answer(
          meter,
          started,
          res,
          batch.copies > 0
            ? jsonReply(202, { accepted: events.length, deduplicated: batch.copies })
            : events.length === 1
              ? ACCEPTED_ONE
              : jsonReply(202, { accepted: events.length }),
        );
        return;
      case 'too_large':
        this.tooManyEvents(meter, started, res, events.length);
        return;
      case 'stopped':
        this.answer(meter, started, res, SHUTTING_DOWN);
        return;
      case 'queue_full':
        if (config.onQueueFull === 'drop') {
          recorder.dropped('queue_full', events.length);
          this.answer(meter, started, res, jsonReply(202, { accepted: 0, dropped: events.length }));
          return;
        }
        this.queueFull(meter, started, res);
        return;
    }
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
      `request carries ${count} events, more than the whole queue (queue_size ${this.deps.recorder.capacity})`,
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

  private async serveMetrics(res: ServerResponse): Promise<void> {
    this.deps.recorder.updateGauges();
    const { registry } = this.deps.metrics;
    const text = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async serveReload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    const reload = this.deps.reload as () => Promise<ReloadOutcome>;
    const outcome = await reload();
    if (outcome.ok) sendText(res, 200, 'OK\n');
    else sendText(res, 500, `failed to reload config: ${outcome.error}\n`);
  }
}

/**
 * Closing a socket that still has unread request bytes makes the kernel send a reset,
 * which can destroy our 413 before the client reads it. So discard what keeps arriving
 * (bounded in bytes and time) and cut the connection only past that bound.
 */
const DISCARD_BYTES = 4 * 1024 * 1024;
const DISCARD_MS = 2000;
function discardThenClose(req: IncomingMessage): void {
  let discarded = 0;
  const timer = setTimeout(() => req.destroy(), DISCARD_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_BYTES) req.destroy();
  });
  req.on('end', () => clearTimeout(timer));
  req.on('close', () => clearTimeout(timer));
  req.resume();
}

/** The status a `clientError` answers with; anything else is a 400. */
const CLIENT_ERROR_STATUS: Readonly<Record<string, number>> = {
  HPE_HEADER_OVERFLOW: 431,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/**
 * Whether a response is already being written on this socket (a 413 sent before the body
 * ended, say): a raw error answer then would corrupt it. node:http's own default handler
 * makes the same check on the same field, which has no public accessor.
 */
function answering(socket: Duplex): boolean {
  return (socket as { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent === true;
}

/** What `setSecureContext` takes, and the https server at creation: the client CA only with mTLS. */
function secureContextOptions(tls: ServerTlsConfig): { cert: string; key: string; ca?: string } {
  return tls.clientCa === null
    ? { cert: tls.cert, key: tls.key }
    : { cert: tls.cert, key: tls.key, ca: tls.clientCa };
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  send(res, reply(status, TEXT_TYPE, text));
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  send(res, jsonReply(405, { error: `method not allowed; use ${allow}` }, ['allow', allow]));
}
