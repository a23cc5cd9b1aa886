/*
 * A Coroot stand-in on 127.0.0.1:0 that speaks exactly what docs/coroot.md "Pull mode"
 * documents: cookie login at POST /api/login, the paged alerts listing with Unix
 * millisecond timestamps and nulls, `data: null` for an unknown project, and the
 * failure modes of real deployments (5xx, HTML from a pre-1.18 Coroot, bad JSON,
 * reset connections, hangs). Tests script alert state changes through it.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { loadFixture } from './fixtures.js';

/** An alert exactly as the API renders it (snake_case, ms timestamps, null when unset). */
export type WireAlert = Record<string, unknown> & { id: string };

export type FakeMode = 'ok' | 'error500' | 'html' | 'bad_json' | 'reset' | 'hang';

export interface FakeCorootOptions {
  project: string;
  /** Without credentials the fake behaves as a Coroot with an anonymous role. */
  email?: string;
  password?: string;
}

export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  cookie: string | undefined;
  status: number;
}

const CONTEXT = (loadFixture('coroot-api/alerts-empty.json') as { context: unknown }).context;
const TEMPLATES = (loadFixture('coroot-api/alerts-mixed.json') as { data: { alerts: WireAlert[] } }).data
  .alerts;

export class FakeCoroot {
  mode: FakeMode = 'ok';
  readonly alerts = new Map<string, WireAlert>();
  readonly requests: SeenRequest[] = [];
  readonly sessions = new Set<string>();
  /** Session cookie values ever handed out (to check none reaches a log). */
  readonly issued: string[] = [];
  logins = 0;
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly opts: FakeCorootOptions,
  ) {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(opts: FakeCorootOptions): Promise<FakeCoroot> {
    let fake: FakeCoroot | null = null;
    const server = createServer((req, res) => {
      void fake?.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    fake = new FakeCoroot(server, `http://127.0.0.1:${port}`, opts);
    return fake;
  }

  /** Open TCP connections right now (a stopped poller must leave none). */
  get connections(): number {
    return this.sockets.size;
  }

  alertRequests(): SeenRequest[] {
    return this.requests.filter((r) => r.path.endsWith('/alerts'));
  }

  /** Opens an alert shaped like one of the real-looking fixtures (`template` indexes them). */
  open(id: string, template = 4, over: Partial<WireAlert> = {}): WireAlert {
    const now = Date.now();
    const alert: WireAlert = {
      ...structuredClone(TEMPLATES[template] as WireAlert),
      id,
      project_id: this.opts.project,
      opened_at: now,
      resolved_at: null,
      manually_resolved_at: null,
      updated_at: now,
      suppressed: false,
      duration: 0,
      ...over,
    };
    delete alert.resolved_by;
    this.alerts.set(id, alert);
    return alert;
  }

  /** What Coroot's ResolveAlert does: the rule stopped firing. */
  resolve(id: string): void {
    const now = Date.now();
    this.update(id, { resolved_at: now, updated_at: now });
  }

  /** SuppressAlerts: flag set, both timestamps cleared, resolved_by set. */
  suppress(id: string, by: string): void {
    this.update(id, {
      suppressed: true,
      resolved_at: null,
      manually_resolved_at: null,
      resolved_by: by,
      updated_at: Date.now(),
    });
  }

  /** ResolveAlerts (by a user): manually_resolved_at set, resolved_at left unset. */
  manuallyResolve(id: string, by: string): void {
    const now = Date.now();
    this.update(id, { manually_resolved_at: now, resolved_by: by, updated_at: now });
  }

  /** ReopenAlerts: manual resolve and suppression undone, resolved_by cleared. */
  reopen(id: string): void {
    const alert = this.get(id);
    delete alert.resolved_by;
    this.update(id, { manually_resolved_at: null, suppressed: false, updated_at: Date.now() });
  }

  /**
   * ClearSuppression (a suppressed check alert whose condition cleared): the flag and
   * resolved_by cleared, `updated_at` untouched, `resolved_at` still unset.
   */
  clearSuppression(id: string): void {
    const alert = this.get(id);
    delete alert.resolved_by;
    this.update(id, { suppressed: false });
  }

  /** Forgets every session, as a Coroot restart or a 7-day expiry does: the next request gets 401. */
  expireSessions(): void {
    this.sessions.clear();
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private get(id: string): WireAlert {
    const alert = this.alerts.get(id);
    if (!alert) throw new Error(`fake coroot has no alert ${id}`);
    return alert;
  }

  private update(id: string, fields: Partial<WireAlert>): void {
    Object.assign(this.get(id), fields);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const seen: SeenRequest = {
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      cookie: req.headers.cookie,
      status: 0,
    };
    this.requests.push(seen);
    const body = await readBody(req);
    const answer = (status: number, text: string, headers: Record<string, string | string[]> = {}): void => {
      seen.status = status;
      res.writeHead(status, { 'content-length': Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    if (url.pathname === '/api/login' && req.method === 'POST') return this.login(body, answer);
    const m = /^\/api\/project\/([^/]+)\/alerts$/.exec(url.pathname);
    if (!m || req.method !== 'GET')
      return answer(404, '404 page not found\n', { 'content-type': 'text/plain' });
    switch (this.mode) {
      case 'reset':
        req.socket.destroy();
        return;
      case 'hang':
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      case 'html':
        // A Coroot < 1.18 has no such route and serves its UI for any unknown path.
        return answer(
          200,
          '<!doctype html><html><head><title>Coroot</title></head><body><div id="app"></div></body></html>',
          {
            'content-type': 'text/html; charset=utf-8',
          },
        );
      case 'error500':
        return answer(500, 'failed to query alerts\n', { 'content-type': 'text/plain; charset=utf-8' });
      default:
    }
    if (this.opts.email !== undefined && !this.sessions.has(cookieValue(req.headers.cookie) ?? '')) {
      return answer(401, '', { 'content-type': 'text/plain; charset=utf-8' });
    }
    if (this.mode === 'bad_json')
      return answer(200, '{"context": {}, "data": {"alerts": [', { 'content-type': 'application/json' });
    const project = decodeURIComponent(m[1] as string);
    if (project !== this.opts.project)
      return answer(200, JSON.stringify({ context: CONTEXT, data: null }), json());
    const limit = Number(url.searchParams.get('limit') ?? '0') || 1000;
    const offset = Number(url.searchParams.get('offset') ?? '0') || 0;
    const all = [...this.alerts.values()].sort((a, b) => (a.opened_at as number) - (b.opened_at as number));
    const rendered = all.map(render);
    const firing = rendered.filter((a) => !a.resolved_at && !a.manually_resolved_at && !a.suppressed).length;
    const data =
      url.searchParams.get('include_resolved') === 'true'
        ? {
            alerts: rendered.slice(offset, offset + limit),
            total: all.length,
            firing,
            resolved: all.length - firing,
          }
        : { alerts: [], total: firing, firing, resolved: all.length - firing };
    return answer(200, JSON.stringify({ context: CONTEXT, data }), json());
  }

  private login(
    body: string,
    answer: (status: number, text: string, headers?: Record<string, string | string[]>) => void,
  ): void {
    let form: { email?: unknown; password?: unknown; action?: unknown } = {};
    try {
      form = JSON.parse(body) as typeof form;
    } catch {
      answer(400, 'invalid data\n');
      return;
    }
    if (
      this.opts.email === undefined ||
      form.email !== this.opts.email ||
      form.password !== this.opts.password
    ) {
      answer(404, 'Invalid email or password\n', { 'content-type': 'text/plain; charset=utf-8' });
      return;
    }
    this.logins++;
    const session = randomBytes(16).toString('hex');
    this.sessions.add(session);
    this.issued.push(session);
    const expires = new Date(Date.now() + 7 * 86_400_000).toUTCString();
    answer(200, '', {
      'set-cookie': [`coroot_session=${session}; Path=/; Expires=${expires}; HttpOnly; SameSite=Lax`],
    });
  }
}

/** `duration` is computed at render time, as Coroot's renderAlert does. */
function render(alert: WireAlert): WireAlert {
  const end = (alert.resolved_at as number | null) ?? Date.now();
  return { ...alert, duration: end - (alert.opened_at as number) };
}

function json(): Record<string, string> {
  return { 'content-type': 'application/json' };
}

function cookieValue(header: string | undefined): string | undefined {
  return /(?:^|;\s*)coroot_session=([^;]*)/.exec(header ?? '')?.[1];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      text += c;
    });
    req.on('end', () => resolve(text));
    req.on('error', () => resolve(text));
  });
}
