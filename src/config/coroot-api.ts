import { parseHttpUrl } from '../lib/url.js';
import type { MapReader } from './reader.js';

/**
 * `ingest.coroot_api`: Coroot API pull mode (docs/coroot-api.md), one entry per
 * Coroot project to poll. Defaults are documented here next to the schema:
 *
 * | key | default | notes |
 * | --- | --- | --- |
 * | `url` | required | Coroot's base URL, http or https; a path prefix (reverse proxy) is kept |
 * | `project` | required | the project id as in Coroot's URLs (`/p/<project>/...`) |
 * | `email` + `password` / `password_file` | none | without them the poller relies on Coroot's anonymous role |
 * | `interval` | 30s | between polls, ±10% jitter; at least 100ms (10s or more is sensible in production) |
 * | `timeout` | 10s | per HTTP request (login or one page) |
 * | `max_backoff` | 5m | after consecutive failures the wait doubles from `interval` up to this |
 * | `page_size` | 1000 | alerts per request (`limit=`), Coroot's own default |
 * | `state_file` | `./data/coroot-api-<project>.json` | last seen alert states; relative paths resolve against the config file's folder |
 */
export interface CorootApiConfig {
  /** Base URL without a trailing slash, userinfo, query or fragment. */
  url: string;
  project: string;
  email: string | null;
  password: string | null;
  intervalMs: number;
  timeoutMs: number;
  maxBackoffMs: number;
  pageSize: number;
  /** Absolute path. */
  stateFile: string;
}

export const COROOT_API_DEFAULTS = {
  intervalMs: 30_000,
  timeoutMs: 10_000,
  maxBackoffMs: 5 * 60_000,
  pageSize: 1000,
};

/** Below this a poller would hammer Coroot; tests use it to run fast. */
export const COROOT_API_MIN_INTERVAL_MS = 100;

export const COROOT_API_KEYS = [
  'url',
  'project',
  'email',
  'password',
  'password_file',
  'interval',
  'timeout',
  'max_backoff',
  'page_size',
  'state_file',
] as const;

/** The default state file name: the project id with anything unsafe for a file name replaced. */
export function defaultStateFile(project: string): string {
  return `./data/coroot-api-${project.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
}

export function readCorootApi(m: MapReader): CorootApiConfig {
  const url = readBaseUrl(m);
  const project = m.string('project', '', { required: true, nonEmpty: true });
  if (/[/?#\s]/.test(project)) {
    m.error('project', `must be a Coroot project id (as in /p/<project>/), got ${JSON.stringify(project)}`);
  }
  const email = m.optionalString('email');
  const password = m.secret('password');
  if (email !== null && email === '') m.error('email', 'must not be empty');
  if (password === '') m.error(m.has('password') ? 'password' : 'password_file', 'must not be empty');
  if (email !== null && password === null && !m.has('password') && !m.has('password_file')) {
    m.error('email', 'needs password or password_file too');
  }
  if (email === null && (m.has('password') || m.has('password_file'))) {
    m.error(m.has('password') ? 'password' : 'password_file', 'needs email too');
  }
  const stateText = m.string('state_file', defaultStateFile(project), { nonEmpty: true });
  return {
    url,
    project,
    email: email === '' ? null : email,
    password: email === null ? null : password,
    intervalMs: m.duration('interval', COROOT_API_DEFAULTS.intervalMs, { min: COROOT_API_MIN_INTERVAL_MS }),
    timeoutMs: m.duration('timeout', COROOT_API_DEFAULTS.timeoutMs, { min: 1 }),
    maxBackoffMs: m.duration('max_backoff', COROOT_API_DEFAULTS.maxBackoffMs, { min: 1 }),
    pageSize: m.int('page_size', COROOT_API_DEFAULTS.pageSize, { min: 1, max: 100_000 }),
    stateFile: m.ctx.resolvePath(stateText),
  };
}

/**
 * Credentials go in `email`/`password`, never in the URL: a URL ends up in logs and
 * error messages. So userinfo is refused rather than silently used.
 */
function readBaseUrl(m: MapReader): string {
  const text = m.string('url', '', { required: true, nonEmpty: true });
  if (text === '') return 'http://invalid.invalid';
  // The text may carry user:password@ (refused below, but only once it parses), possibly from ${VAR}.
  const { url, error } = parseHttpUrl(text);
  if (error !== null) m.error('url', error);
  if (url === null) return 'http://invalid.invalid';
  if (url.username || url.password) {
    m.error('url', 'must not carry user:password@; use email and password (or password_file)');
  }
  if (url.search || url.hash) m.error('url', "must not carry a query or fragment: give Coroot's base URL");
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * Two entries that poll the same project of the same Coroot, or share a state file,
 * would emit every change twice or overwrite each other's state.
 */
export function checkCorootApiUnique(
  entries: ReadonlyArray<{ reader: MapReader; config: CorootApiConfig }>,
): void {
  const targets = new Map<string, string>();
  const files = new Map<string, string>();
  for (const { reader, config } of entries) {
    const target = `${config.url} ${config.project}`;
    const other = targets.get(target);
    if (other !== undefined)
      reader.error('project', `project "${config.project}" of ${config.url} is already polled by ${other}`);
    else targets.set(target, reader.path);
    const sharing = files.get(config.stateFile);
    if (sharing !== undefined)
      reader.error(
        'state_file',
        `${config.stateFile} is already used by ${sharing}; each entry needs its own`,
      );
    else files.set(config.stateFile, reader.path);
  }
}
