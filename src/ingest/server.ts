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
import type { Duplex } from 'node:stream';
import type { ServerConfig, ServerTlsConfig } from '../config/server.js';
import type { IngestSink } from '../events/sink.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { RecorderConfig } from '../recorder-config/schema.js';
import { IngestPipeline } from './pipeline.js';
import { jsonReply, send } from './reply.js';
import { pathOf, type Readiness, type ReloadOutcome, Routes } from './routes.js';

export type { Readiness, ReloadOutcome } from './routes.js';

export interface IngestServerDeps {
  metrics: Metrics;
  logger: Logger;
  /** The recorder's intake (events/sink.ts): ingest hands it drafts and never sees the recorder. */
  intake: IngestSink;
  /**
   * The live config: auth, limits and `on_queue_full` apply to the next request after a reload.
   * Its `server` section at construction decides http or https (see `reconfigure` for reloads).
   */
  config: () => RecorderConfig;
  readiness: () => Readiness;
  /** `POST /-/reload`; absent → 404. */
  reload?: () => Promise<ReloadOutcome>;
}

/**
 * The listener: `node:http` (or https with `server.tls`), its timeouts and connection cap,
 * certificate reload, and shutdown. Requests go to the route table (routes.ts), ingest
 * requests on to the pipeline (pipeline.ts). Every failure is an answer, never a throw (docs/architecture.md).
 */
export class IngestServer {
  private readonly server: Server | HttpsServer;
  /** The certificate being served; `null` on plain http. */
  private tls: ServerTlsConfig | null;
  private readonly routes: Routes;
  private draining = false;

  constructor(private readonly deps: IngestServerDeps) {
    const failed = (req: IncomingMessage, res: ServerResponse, err: unknown): void =>
      this.failed(req, res, err);
    const pipeline = new IngestPipeline({
      metrics: deps.metrics,
      logger: deps.logger,
      intake: deps.intake,
      config: deps.config,
      draining: () => this.draining,
      failed,
    });
    this.routes = new Routes({
      metrics: deps.metrics,
      intake: deps.intake,
      config: deps.config,
      readiness: deps.readiness,
      ...(deps.reload ? { reload: deps.reload } : {}),
      pipeline,
      failed,
    });
    const settings = deps.config().server;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      try {
        this.routes.route(req, res);
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
