import { isMap, isScalar } from 'yaml';
import {
  FILTER_KEYS,
  HTTP_AUTH_KEYS,
  type HttpAuth,
  type OutputFilter,
  readFilter,
  readHttpAuth,
  readTls,
  type TlsConfig,
} from '../../config/common.js';
import type { MapReader } from '../../config/reader.js';
import { parseHttpUrl } from '../../lib/url.js';
import {
  type BufferConfig,
  type BufferDefaults,
  defaultBufferConfig,
  readBufferConfig,
} from '../delivery/buffer-config.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../delivery/cloudevents.js';

/**
 * `webhook_outputs[]` (docs/configuration.md "webhook_outputs"). Each event (or, with `batch`, a JSON array of events)
 * is POSTed to `url` by a pool of `workers`, retried with exponential backoff and full
 * jitter on transient failures.
 */
export interface WebhookOutputConfig {
  type: 'webhook';
  /** `webhook:<scheme://host[:port]/path>`, unless overridden: never carries userinfo, query or fragment. */
  name: string;
  /** The URL requests go to, with userinfo and fragment removed (the query is kept: it is sent). */
  url: string;
  /** Extra request headers, as written (values may be secrets: never logged). */
  headers: Record<string, string>;
  /** From `basic_auth` / `bearer_token(_file)`, or from the URL's `user:password@`. */
  auth: HttpAuth;
  tls: TlsConfig | null;
  /** Bounds one attempt, from connect to the end of the response body. */
  timeoutMs: number;
  /** Concurrent requests (and pooled keep-alive connections). */
  workers: number;
  /** Events waiting for a worker (`max_events`); at the bound `when_full` decides (default `drop_newest`). */
  buffer: BufferConfig;
  /** Total attempts per request, the first included. */
  maxAttempts: number;
  /** Base of the exponential backoff: retry n waits up to min(maxBackoff, retryBackoff * 2^(n-1)). */
  retryBackoffMs: number;
  /** Cap of the backoff and of a server's Retry-After. */
  maxBackoffMs: number;
  /** `null`: one event per request, the body is the event JSON. */
  batch: WebhookBatchConfig | null;
  /** `cloudevents`: CloudEvents 1.0, binary mode for single events, structured batch mode for batches. */
  format: OutputFormat;
  filter: OutputFilter;
}

export interface WebhookBatchConfig {
  maxEvents: number;
  /** Bound of the request body (the JSON array); a single larger event is still sent, alone. */
  maxBytes: number;
  /** Longest an event waits for companions; 0 sends whatever is queued as soon as a worker is free. */
  flushIntervalMs: number;
}

/** `buffer:` without one (docs/configuration.md). */
export const WEBHOOK_BUFFER_DEFAULTS: BufferDefaults = {
  maxEvents: 1024,
  whenFull: 'drop_newest',
  diskAllowed: true,
  retiredKey: 'queue_size',
};

/** Defaults, documented here next to the schema (docs/configuration.md "webhook_outputs"). */
export const WEBHOOK_OUTPUT_DEFAULTS = {
  timeoutMs: 10_000,
  workers: 4,
  buffer: defaultBufferConfig(WEBHOOK_BUFFER_DEFAULTS),
  maxAttempts: 5,
  retryBackoffMs: 500,
  maxBackoffMs: 30_000,
  /** Applied when `batch` is present (even as `batch: {}`). */
  batch: { maxEvents: 100, maxBytes: 1024 * 1024, flushIntervalMs: 100 } satisfies WebhookBatchConfig,
};

export const WEBHOOK_OUTPUT_KEYS = [
  'name',
  'url',
  'headers',
  ...HTTP_AUTH_KEYS,
  'tls',
  'timeout',
  'workers',
  'buffer',
  'queue_size',
  'max_attempts',
  'retry_backoff',
  'max_backoff',
  'batch',
  'format',
  ...FILTER_KEYS,
];

export const BATCH_KEYS = ['max_events', 'max_bytes', 'flush_interval'] as const;

/**
 * Headers the output sets itself or that belong to the connection; Prometheus rejects the
 * same set in its http_config, so users of it are not surprised.
 */
const RESERVED_HEADERS: ReadonlyMap<string, string> = new Map([
  ['authorization', 'use basic_auth or bearer_token'],
  ['content-type', 'the output sends application/json'],
  ['content-length', 'the output sets it'],
  ['user-agent', 'the output sends coroot-event-recorder/<version>'],
  ['host', 'it comes from url'],
  ['transfer-encoding', 'the output sets it'],
  ['connection', 'connections are pooled by the output'],
  ['keep-alive', 'connections are pooled by the output'],
  ['upgrade', 'connections are pooled by the output'],
  ['te', 'the output sets it'],
  ['trailer', 'the output sets it'],
  ['expect', 'the output sets it'],
]);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Visible ASCII, space, tab and obs-text: anything else (CR, LF, NUL) would split or corrupt the request.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function readWebhookOutput(m: MapReader): WebhookOutputConfig {
  const target = readUrl(m);
  let auth = readHttpAuth(m);
  if (target.credentials) {
    if (auth.basic || auth.bearerToken !== null) {
      m.error('url', 'carries user:password@ and basic_auth or bearer_token is set too; keep one');
    } else {
      auth = { basic: target.credentials, bearerToken: null };
    }
  }
  const format = m.oneOf('format', OUTPUT_FORMATS, 'json');
  const tls = readTls(m);
  if (tls && target.url.startsWith('http:')) m.error('tls', 'is set but url uses http; use an https URL');
  const retryBackoffMs = m.duration('retry_backoff', WEBHOOK_OUTPUT_DEFAULTS.retryBackoffMs, { min: 1 });
  const maxBackoffMs = m.duration('max_backoff', WEBHOOK_OUTPUT_DEFAULTS.maxBackoffMs, { min: 1 });
  if (maxBackoffMs < retryBackoffMs) m.error('max_backoff', 'must be at least retry_backoff');
  return {
    type: 'webhook',
    name: m.string('name', target.name, { nonEmpty: true }),
    url: target.url,
    headers: readHeaders(m, format),
    auth,
    tls,
    timeoutMs: m.duration('timeout', WEBHOOK_OUTPUT_DEFAULTS.timeoutMs, { min: 1 }),
    workers: m.int('workers', WEBHOOK_OUTPUT_DEFAULTS.workers, { min: 1, max: 1024 }),
    buffer: readBufferConfig(m, WEBHOOK_BUFFER_DEFAULTS),
    maxAttempts: m.int('max_attempts', WEBHOOK_OUTPUT_DEFAULTS.maxAttempts, { min: 1 }),
    retryBackoffMs,
    maxBackoffMs,
    batch: readBatch(m),
    format,
    filter: readFilter(m),
  };
}

interface ParsedTarget {
  url: string;
  name: string;
  credentials: { username: string; password: string } | null;
}

/**
 * The URL's text may hold a password or a token (userinfo, query), possibly from `${VAR}`:
 * errors show only the scheme, never the value.
 */
function readUrl(m: MapReader): ParsedTarget {
  const fallback: ParsedTarget = {
    url: 'http://invalid.invalid/',
    name: 'webhook:invalid',
    credentials: null,
  };
  const text = m.string('url', '', { required: true, nonEmpty: true });
  if (!text) return fallback;
  const { url, error } = parseHttpUrl(text);
  if (url === null || error !== null) {
    m.error('url', error ?? 'is not a URL');
    return fallback;
  }
  if (!url.hostname) {
    m.error('url', 'must name a host');
    return fallback;
  }
  // As Go's net/http (Prometheus, Alertmanager) does: user:password@ in the URL is basic auth.
  const credentials =
    url.username || url.password
      ? { username: safeDecode(url.username), password: safeDecode(url.password) }
      : null;
  url.username = '';
  url.password = '';
  url.hash = '';
  return { url: url.toString(), name: `webhook:${url.origin}${url.pathname}`, credentials };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function readHeaders(m: MapReader, format: OutputFormat): Record<string, string> {
  const out: Record<string, string> = {};
  if (!m.has('headers')) return out;
  const node = m.nodeOf('headers');
  const names = isMap(node) ? node.items.map((p) => (isScalar(p.key) ? String(p.key.value) : '')) : [];
  const h = m.map('headers', names);
  if (!h) return out;
  const seen = new Set<string>();
  for (const name of names) {
    if (!name) continue;
    const value = h.string(name, '');
    const lower = name.toLowerCase();
    const reserved = RESERVED_HEADERS.get(lower);
    if (!HEADER_NAME.test(name)) h.error(name, 'is not a valid HTTP header name');
    else if (reserved) h.error(name, `cannot be set in headers: ${reserved}`);
    else if (format === 'cloudevents' && lower.startsWith('ce-'))
      h.error(name, 'cannot be set in headers with format: cloudevents (the output sets the ce- attributes)');
    else if (seen.has(lower)) h.error(name, 'is set twice (header names ignore case)');
    else if (!HEADER_VALUE.test(value))
      h.error(name, 'value has characters not allowed in a header (value not shown)');
    else out[name] = value;
    seen.add(lower);
  }
  return out;
}

function readBatch(m: MapReader): WebhookBatchConfig | null {
  const b = m.map('batch', BATCH_KEYS);
  if (!b) return null;
  const d = WEBHOOK_OUTPUT_DEFAULTS.batch;
  return {
    maxEvents: b.int('max_events', d.maxEvents, { min: 1, max: 1_000_000 }),
    maxBytes: b.byteSize('max_bytes', d.maxBytes, { min: 2 }),
    flushIntervalMs: b.duration('flush_interval', d.flushIntervalMs, { min: 0 }),
  };
}
