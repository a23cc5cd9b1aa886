import {
  EVENT_SOURCES,
  EVENT_TYPES,
  type EventSource,
  type EventType,
  SEVERITIES,
  type Severity,
} from '../events/event.js';
import { errnoCode } from '../lib/errno.js';
import type { MapReader } from './reader.js';

/** Which events an output wants; `null` means "all". Filtered-out events are not drops. */
export interface OutputFilter {
  eventTypes: EventType[] | null;
  sources: EventSource[] | null;
  minSeverity: Severity | null;
}

export const FILTER_KEYS = ['event_types', 'sources', 'min_severity'] as const;

export function readFilter(m: MapReader): OutputFilter {
  return {
    eventTypes: m.stringList('event_types', { allowed: EVENT_TYPES }),
    sources: m.stringList('sources', { allowed: EVENT_SOURCES }),
    minSeverity: m.has('min_severity') ? m.oneOf('min_severity', SEVERITIES, 'unknown') : null,
  };
}

export interface BasicAuth {
  username: string;
  password: string;
}

/** Credentials a client must present (ingest) or that we present (webhook output). */
export interface HttpAuth {
  basic: BasicAuth | null;
  bearerToken: string | null;
}

export const HTTP_AUTH_KEYS = ['basic_auth', 'bearer_token', 'bearer_token_file'] as const;
export const BASIC_AUTH_KEYS = ['username', 'password', 'password_file'] as const;

export function readHttpAuth(m: MapReader): HttpAuth {
  let basic: BasicAuth | null = null;
  const b = m.map('basic_auth', BASIC_AUTH_KEYS);
  if (b) {
    const username = b.string('username', '', { required: true, nonEmpty: true });
    const password = b.secret('password', { required: true });
    if (password !== null) basic = { username, password };
  }
  const bearerToken = m.secret('bearer_token');
  if (basic && bearerToken !== null)
    m.error('bearer_token', 'set either basic_auth or bearer_token, not both');
  if (bearerToken === '') m.error('bearer_token', 'must not be empty');
  return { basic, bearerToken };
}

/** TLS material as file contents (read at load, so a reload sees a renewed certificate). */
export interface TlsConfig {
  ca: string | null;
  cert: string | null;
  key: string | null;
  serverName: string | null;
  insecureSkipVerify: boolean;
}

export const TLS_KEYS = ['ca_file', 'cert_file', 'key_file', 'server_name', 'insecure_skip_verify'] as const;

/**
 * The content of a PEM file named by `key` (`null` when absent or unreadable, reported). The
 * file is watched, so a renewed certificate reloads; errors name the path, never the content.
 */
export function readPemFile(m: MapReader, key: string): string | null {
  if (!m.has(key)) return null;
  const path = m.ctx.resolvePath(m.string(key, '', { nonEmpty: true }));
  m.ctx.referencedFiles.add(path);
  try {
    return m.ctx.readTextFile(path);
  } catch (err) {
    m.error(key, `cannot read ${path}: ${errnoCode(err) ?? 'error'}`);
    return null;
  }
}

export function readTls(parent: MapReader, key = 'tls'): TlsConfig | null {
  const m = parent.map(key, TLS_KEYS);
  if (!m) return null;
  const tls: TlsConfig = {
    ca: readPemFile(m, 'ca_file'),
    cert: readPemFile(m, 'cert_file'),
    key: readPemFile(m, 'key_file'),
    serverName: m.optionalString('server_name'),
    insecureSkipVerify: m.bool('insecure_skip_verify', false),
  };
  // Whether the keys are there, not whether their files could be read: an unreadable file is
  // reported by readPemFile already, and an error elsewhere in the file must not hide this one.
  if (m.has('cert_file') !== m.has('key_file')) {
    m.error(m.has('cert_file') ? 'key_file' : 'cert_file', 'cert_file and key_file go together');
  }
  return tls;
}
