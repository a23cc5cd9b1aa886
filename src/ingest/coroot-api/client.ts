/*
 * The HTTP side of pull mode (docs/coroot.md "Pull mode"): cookie login and the paged
 * alerts listing. Every failure comes back as a value with a `result` for
 * coroot_api_polls_total and a message safe to log: the password and the session
 * cookie never appear in one.
 */
import { Agent, type Dispatcher, request } from 'undici';
import type { CorootApiConfig } from '../../config/coroot-api.js';
import { errnoCode } from '../../lib/errno.js';
import { redactor } from '../../lib/redact.js';
import { type AlertsPage, type ApiAlert, parseAlertsPage } from './api-alert.js';

/** `result` label values of coroot_api_polls_total for a poll that failed. */
export type FailureResult =
  | 'error_network'
  | 'error_http'
  | 'error_auth'
  | 'error_decode'
  | 'error_not_found'
  | 'error_unsupported';

export type Failure = { ok: false; result: FailureResult; message: string };
/** The client was closed mid-request (shutdown or reload): not a failure to count. */
export type Stopped = { ok: false; result: 'stopped' };

export type Listing =
  | {
      ok: true;
      alerts: ApiAlert[];
      /** False when some alert could not be read: absent ids then prove nothing. */
      complete: boolean;
      skipped: string[];
      pages: number;
    }
  | Failure
  | Stopped;

interface Answer {
  ok: true;
  status: number;
  headers: Dispatcher.ResponseData['headers'];
  text: string;
}

/** One page of alerts with details is far below this; past it, something is wrong with the server. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** A listing this long is not an alert history but a loop (a server that ignores `offset`). */
const MAX_ALERTS = 1_000_000;
const SESSION_COOKIE = 'coroot_session';

export class CorootApiClient {
  private readonly agent: Agent;
  private readonly closing = new AbortController();
  /** The `coroot_session` cookie value; a secret. */
  private session: string | null = null;

  constructor(
    private readonly config: CorootApiConfig,
    private readonly userAgent: string,
  ) {
    this.agent = new Agent({ connect: { timeout: config.timeoutMs } });
  }

  private get hasCredentials(): boolean {
    return this.config.email !== null && this.config.password !== null;
  }

  /** Every alert of the project, resolved ones included, across as many pages as it takes. */
  async listAlerts(): Promise<Listing> {
    if (this.hasCredentials && this.session === null) {
      const failed = await this.login();
      if (failed) return failed;
    }
    const alerts: ApiAlert[] = [];
    const ids = new Set<string>();
    const skipped: string[] = [];
    let offset = 0;
    let pages = 0;
    for (;;) {
      const page = await this.page(offset);
      if (!page.ok) return page;
      pages++;
      skipped.push(...page.skipped);
      const got = page.alerts.length + page.skipped.length;
      let added = 0;
      for (const alert of page.alerts) {
        if (ids.has(alert.id)) continue;
        ids.add(alert.id);
        alerts.push(alert);
        added++;
      }
      offset += got;
      // `total` is authoritative when sent: a server that caps `limit` below page_size
      // would otherwise look like it had sent its last page.
      const last = page.total !== null ? offset >= page.total : got < this.config.pageSize;
      // Nothing new on a full page: the server ignores `offset` and sent everything already.
      if (last || got === 0 || (added === 0 && page.skipped.length === 0)) break;
      if (alerts.length > MAX_ALERTS) {
        return this.fail('error_decode', `the listing goes past ${MAX_ALERTS} alerts; stopped paging`);
      }
    }
    return { ok: true, alerts, complete: skipped.length === 0, skipped, pages };
  }

  /** Aborts whatever is in flight and closes every socket. */
  async close(): Promise<void> {
    this.closing.abort();
    await this.agent.destroy().catch(() => undefined);
  }

  private async login(): Promise<Failure | Stopped | null> {
    const body = JSON.stringify({ email: this.config.email, password: this.config.password, action: '' });
    const res = await this.send('POST', '/api/login', body);
    if (!res.ok) return res;
    if (isHtml(res.headers) && res.status < 300) return this.unsupported('/api/login', res.status);
    if (res.status >= 200 && res.status < 300) {
      const session = sessionCookie(res.headers['set-cookie']);
      if (session !== null) {
        this.session = session;
        return null;
      }
      return this.fail('error_auth', `login answered HTTP ${res.status} but set no ${SESSION_COOKIE} cookie`);
    }
    if (res.status >= 500)
      return this.fail('error_http', `login failed: HTTP ${res.status}${snippet(res.text)}`);
    return this.fail(
      'error_auth',
      `login refused: HTTP ${res.status}${snippet(res.text)} (check email and password)`,
    );
  }

  private async page(offset: number): Promise<Extract<AlertsPage, { ok: true }> | Failure | Stopped> {
    const path =
      `/api/project/${encodeURIComponent(this.config.project)}/alerts` +
      `?include_resolved=true&limit=${this.config.pageSize}&offset=${offset}`;
    let res = await this.send('GET', path);
    if (!res.ok) return res;
    if (res.status === 401 && this.hasCredentials) {
      // The session expired (7 days) or Coroot restarted with new keys: log in again, once.
      this.session = null;
      const failed = await this.login();
      if (failed) return failed;
      res = await this.send('GET', path);
      if (!res.ok) return res;
    }
    if (res.status === 401) {
      return this.fail(
        'error_auth',
        this.hasCredentials
          ? 'Coroot refused a fresh session (HTTP 401)'
          : 'Coroot requires a login (HTTP 401): set email and password, or give Coroot an anonymous role',
      );
    }
    if (res.status === 403) {
      return this.fail(
        'error_auth',
        `not allowed to view the alerts of project "${this.config.project}" (HTTP 403)`,
      );
    }
    if (res.status === 404) {
      return this.fail(
        'error_not_found',
        `HTTP 404 for project "${this.config.project}"${snippet(res.text)}`,
      );
    }
    if (res.status < 200 || res.status >= 300) {
      return this.fail('error_http', `HTTP ${res.status}${snippet(res.text)}`);
    }
    if (isHtml(res.headers)) return this.unsupported(path, res.status);
    let json: unknown;
    try {
      json = JSON.parse(res.text);
    } catch (err) {
      return this.fail(
        'error_decode',
        `the answer is not JSON (${(err as Error).message})${snippet(res.text)}`,
      );
    }
    const page = parseAlertsPage(json);
    if (!page.ok) {
      if (page.kind === 'not_found') {
        return this.fail(
          'error_not_found',
          `Coroot does not know project "${this.config.project}" (data: null)`,
        );
      }
      return this.fail('error_decode', `unexpected answer: ${page.error}`);
    }
    return page;
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body?: string,
  ): Promise<Answer | Failure | Stopped> {
    if (this.closing.signal.aborted) return { ok: false, result: 'stopped' };
    const timeout = AbortSignal.timeout(this.config.timeoutMs);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.userAgent };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.session !== null) headers.cookie = `${SESSION_COOKIE}=${this.session}`;
    try {
      const res = await request(`${this.config.url}${path}`, {
        method,
        headers,
        body,
        dispatcher: this.agent,
        signal: AbortSignal.any([this.closing.signal, timeout]),
        headersTimeout: this.config.timeoutMs,
        bodyTimeout: this.config.timeoutMs,
      });
      const text = await readCapped(res.body);
      if (text === null) {
        return this.fail(
          'error_decode',
          `the answer to ${method} ${path} is larger than ${MAX_ANSWER_BYTES} bytes`,
        );
      }
      return { ok: true, status: res.statusCode, headers: res.headers, text };
    } catch (err) {
      if (this.closing.signal.aborted) return { ok: false, result: 'stopped' };
      if (timeout.aborted) return this.fail('error_network', `no answer within ${this.config.timeoutMs}ms`);
      return this.fail('error_network', describeError(err));
    }
  }

  private unsupported(path: string, status: number): Failure {
    return this.fail(
      'error_unsupported',
      `Coroot answered ${path.split('?')[0]} with an HTML page (HTTP ${status} text/html): ` +
        'it has no alerts API; pull mode needs Coroot 1.18 or newer',
    );
  }

  /** Last line of defence: whatever a server echoes back, the password never reaches a log. */
  private fail(result: FailureResult, message: string): Failure {
    return { ok: false, result, message: redactor([this.config.password, this.session])(message) };
  }
}

function isHtml(headers: Answer['headers']): boolean {
  const type = headers['content-type'];
  return /\btext\/html\b/i.test(Array.isArray(type) ? type.join(',') : (type ?? ''));
}

/** The value of the `coroot_session` cookie among Set-Cookie headers, or null. */
function sessionCookie(header: string | string[] | undefined): string | null {
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [header];
  for (const line of lines) {
    const pair = line.split(';', 1)[0] ?? '';
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = pair.slice(eq + 1).trim();
    // An empty value is how a server deletes a cookie, not a session.
    if (value !== '') return value;
  }
  return null;
}

async function readCapped(body: Dispatcher.ResponseData['body']): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_ANSWER_BYTES) {
      body.destroy();
      return null;
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A short, single-line excerpt of a server's answer for error messages. */
function snippet(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line === '') return '';
  return `: ${line.length > 200 ? `${line.slice(0, 200)}…` : line}`;
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return 'request failed';
  const code = errnoCode(err);
  const cause = err.cause instanceof Error ? err.cause.message : '';
  const text = cause && !err.message.includes(cause) ? `${err.message} (${cause})` : err.message;
  return code && !text.includes(code) ? `${code}: ${text}` : text;
}
