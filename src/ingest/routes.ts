import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IngestSink } from '../events/sink.js';
import type { Metrics } from '../metrics/registry.js';
import type { RecorderConfig } from '../recorder-config/schema.js';
import { checkAuth } from './auth.js';
import { alertmanagerEndpoint, corootEndpoint, type IngestEndpoint } from './endpoints.js';
import { EndpointMeter } from './metering.js';
import type { IngestPipeline } from './pipeline.js';
import { jsonReply, methodNotAllowed, send, sendText } from './reply.js';

export interface Readiness {
  ready: boolean;
  reason?: string;
}

export type ReloadOutcome = { ok: true } | { ok: false; error: string };

export interface RoutesDeps {
  metrics: Metrics;
  intake: IngestSink;
  config: () => RecorderConfig;
  readiness: () => Readiness;
  /** `POST /-/reload`; absent → 404. */
  reload?: () => Promise<ReloadOutcome>;
  pipeline: IngestPipeline;
  failed: (req: IncomingMessage, res: ServerResponse, err: unknown) => void;
}

/**
 * The route table: the ingest endpoints (handed to the pipeline), `/metrics`, and the `/-/`
 * admin endpoints (health, readiness, reload), each behind `server.auth` where configured.
 */
export class Routes {
  /** By path: each ingest endpoint with its metric cells. */
  private readonly endpoints: ReadonlyMap<string, { endpoint: IngestEndpoint; meter: EndpointMeter }>;

  constructor(private readonly deps: RoutesDeps) {
    const endpoints = [corootEndpoint, alertmanagerEndpoint];
    this.endpoints = new Map(
      endpoints.map((e) => [e.path, { endpoint: e, meter: new EndpointMeter(deps.metrics, e.name) }]),
    );
  }

  /** Synchronous up to the body read: the ingest path allocates no promise per request. */
  route(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req);
    const route = this.endpoints.get(path);
    if (route) {
      if (req.method !== 'POST') methodNotAllowed(res, 'POST');
      else this.deps.pipeline.handle(route.endpoint, route.meter, req, res);
      return;
    }
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    switch (path) {
      case '/metrics':
        if (!this.authorized(req, res, false)) return;
        if (!readOnly) methodNotAllowed(res, 'GET, HEAD');
        else this.serveMetrics(res).catch((err: unknown) => this.deps.failed(req, res, err));
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
        else this.serveReload(req, res).catch((err: unknown) => this.deps.failed(req, res, err));
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

  private async serveMetrics(res: ServerResponse): Promise<void> {
    this.deps.intake.updateGauges();
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

export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
