import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IngestEndpointConfig, RecorderConfig } from '../config/schema.js';
import type { RecorderEvent } from '../events/event.js';
import type { EventFactory } from '../events/factory.js';
import type { Logger } from '../log.js';
import type { IngestRejectReason, Metrics } from '../metrics.js';
import type { Recorder } from '../recorder/recorder.js';
import { checkAuth } from './auth.js';
import { isJsonContentType, readBody } from './body.js';
import { alertmanagerEndpoint, corootEndpoint, type IngestEndpoint } from './endpoints.js';

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
  /** The live config: auth, limits and `on_queue_full` apply to the next request after a reload. */
  config: () => RecorderConfig;
  readiness: () => Readiness;
  /** `POST /-/reload`; absent → 404. */
  reload?: () => Promise<ReloadOutcome>;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

/**
 * The HTTP surface: ingest endpoints, /metrics and the /-/ endpoints. `node:http` with a
 * small route table (ARCHITECTURE.md). Every failure is an answer, never a throw.
 */
export class IngestServer {
  private readonly server: Server;
  private readonly endpoints: ReadonlyMap<string, IngestEndpoint>;
  private draining = false;

  constructor(private readonly deps: IngestServerDeps) {
    this.endpoints = new Map([corootEndpoint, alertmanagerEndpoint].map((e) => [e.path, e]));
    this.server = createServer(
      { headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 },
      (req, res) => {
        this.route(req, res).catch((err: unknown) => {
          deps.logger.error('request handler failed', { err, path: pathOf(req) });
          if (!res.headersSent) send(res, 500, { error: 'internal error' });
          else res.destroy();
        });
      },
    );
    // A client that sends garbage instead of HTTP gets a 400 and is disconnected, not a crash.
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      const status =
        err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      socket.end(`HTTP/1.1 ${status} Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
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

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req);
    const endpoint = this.endpoints.get(path);
    if (endpoint) {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      return this.ingest(endpoint, req, res);
    }
    switch (path) {
      case '/metrics':
        if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET, HEAD');
        return this.serveMetrics(res);
      case '/-/healthy':
        if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET, HEAD');
        return sendText(res, 200, 'OK\n');
      case '/-/ready': {
        if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET, HEAD');
        const r = this.deps.readiness();
        return sendText(res, r.ready ? 200 : 503, r.ready ? 'OK\n' : `not ready: ${r.reason ?? 'unknown'}\n`);
      }
      case '/-/reload':
        if (!this.deps.reload) break;
        if (req.method !== 'POST' && req.method !== 'PUT') return methodNotAllowed(res, 'POST, PUT');
        return this.serveReload(req, res);
    }
    req.resume();
    send(res, 404, { error: `no route for ${path}` });
  }

  private async ingest(endpoint: IngestEndpoint, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const { metrics } = this.deps;
    const answer = (status: number, body: object, headers?: Record<string, string>): void => {
      send(res, status, body, headers);
      metrics.ingestRequests.labels(endpoint.name, String(status)).inc();
      metrics.ingestDuration.labels(endpoint.name).observe(Number(process.hrtime.bigint() - started) / 1e9);
    };
    const reject = (
      reason: IngestRejectReason,
      status: number,
      error: string,
      headers?: Record<string, string>,
    ): void => {
      metrics.ingestRejected.labels(endpoint.name, reason).inc();
      answer(status, { error }, headers);
    };

    const config = this.deps.config();
    const endpointConfig: IngestEndpointConfig = endpoint.config(config);
    if (!endpointConfig.enabled) {
      req.resume();
      return answer(404, { error: `${endpoint.path} is disabled in the configuration` });
    }
    if (this.draining) {
      req.resume();
      return answer(503, { error: 'shutting down' }, { 'retry-after': '1', connection: 'close' });
    }
    const auth = checkAuth(endpointConfig.auth, req.headers.authorization);
    if (!auth.ok) {
      req.resume();
      return reject('unauthorized', 401, 'unauthorized', { 'www-authenticate': auth.challenge });
    }
    if (!isJsonContentType(req.headers['content-type'])) {
      req.resume();
      const given = req.headers['content-type'] ?? 'none';
      return reject('unsupported_media_type', 415, `Content-Type must be application/json, got ${given}`);
    }
    const body = await readBody(req, config.maxBodyBytes);
    if (!body.ok) {
      if (body.reason === 'aborted') {
        // The client went away mid-body: nothing to answer, nothing was parsed or recorded.
        metrics.ingestRequests.labels(endpoint.name, 'aborted').inc();
        return;
      }
      // Answer at once; what keeps arriving is discarded up to a bound, then the connection is cut.
      reject('too_large', 413, `request body exceeds max_body_bytes (${config.maxBodyBytes} bytes)`);
      discardThenClose(req);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.body.toString('utf8'));
    } catch (err) {
      return reject('invalid_json', 400, `invalid JSON: ${(err as Error).message}`);
    }
    const result = endpoint.parse(parsed);
    if (!result.ok) return reject('invalid_payload', 400, result.error);

    const now = Date.now();
    const events: RecorderEvent[] = result.drafts.map((d) => this.deps.factory.stamp(d, now));
    const outcome = this.deps.recorder.recordAll(events);
    switch (outcome) {
      case 'accepted':
        return answer(202, { accepted: events.length });
      case 'too_large':
        return reject(
          'queue_full',
          413,
          `request carries ${events.length} events, more than the whole queue (queue_size ${this.deps.recorder.capacity})`,
        );
      case 'stopped':
        return answer(503, { error: 'shutting down' }, { 'retry-after': '1', connection: 'close' });
      case 'queue_full':
        if (config.onQueueFull === 'drop') {
          this.deps.recorder.dropped('queue_full', events.length);
          return answer(202, { accepted: 0, dropped: events.length });
        }
        return reject('queue_full', 503, 'queue full, retry later', { 'retry-after': '1' });
    }
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

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function send(res: ServerResponse, status: number, body: object, headers?: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.writeHead(405, { ...JSON_HEADERS, allow });
  res.end(JSON.stringify({ error: `method not allowed; use ${allow}` }));
}
