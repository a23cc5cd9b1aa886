import { createSecureContext } from 'node:tls';
import { HTTP_AUTH_KEYS, type HttpAuth, readHttpAuth, readPemFile } from './common.js';
import type { MapReader } from './reader.js';

/** The listener's certificate (PEM contents, read at load and at every reload). */
export interface ServerTlsConfig {
  cert: string;
  key: string;
  /** Set: clients must present a certificate signed by this CA (mutual TLS). */
  clientCa: string | null;
}

/** Credentials for `/metrics` and the `/-/` endpoints (the ingest endpoints have their own). */
export interface ServerAuthConfig extends HttpAuth {
  /** `/-/healthy` and `/-/ready` too; by default they stay open for probes. */
  protectHealth: boolean;
}

/** `server:` — how the HTTP listener treats its clients (the address is `listen_address`). */
export interface ServerConfig {
  tls: ServerTlsConfig | null;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** 0: no cap. */
  maxConnections: number;
  /** `null`: `/metrics` and `/-/` are open. */
  auth: ServerAuthConfig | null;
}

export const SERVER_KEYS = [
  'tls',
  'headers_timeout',
  'request_timeout',
  'keep_alive_timeout',
  'max_connections',
  'auth',
] as const;
export const SERVER_TLS_KEYS = ['cert_file', 'key_file', 'client_ca_file'] as const;
export const SERVER_AUTH_KEYS = [...HTTP_AUTH_KEYS, 'protect_health'] as const;

export const SERVER_DEFAULTS: Readonly<ServerConfig> = {
  tls: null,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 0,
  auth: null,
};

export function readServer(root: MapReader): ServerConfig {
  const m = root.map('server', SERVER_KEYS);
  if (!m) return { ...SERVER_DEFAULTS };
  // Zero would switch node:http's protection off (a connection could stall forever): not allowed.
  const headersTimeoutMs = m.duration('headers_timeout', SERVER_DEFAULTS.headersTimeoutMs, { min: 1 });
  const requestTimeoutMs = m.duration('request_timeout', SERVER_DEFAULTS.requestTimeoutMs, { min: 1 });
  if (headersTimeoutMs > requestTimeoutMs) {
    // node:http refuses this combination; say so here rather than fail at listen time.
    m.error('headers_timeout', 'must not be longer than request_timeout (which covers the headers too)');
  }
  return {
    tls: readServerTls(m),
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: m.duration('keep_alive_timeout', SERVER_DEFAULTS.keepAliveTimeoutMs, { min: 1 }),
    maxConnections: m.int('max_connections', SERVER_DEFAULTS.maxConnections, { min: 0 }),
    auth: readServerAuth(m),
  };
}

function readServerTls(server: MapReader): ServerTlsConfig | null {
  const m = server.map('tls', SERVER_TLS_KEYS);
  if (!m) return null;
  const before = m.ctx.issues.length;
  const cert = readPemFile(m, 'cert_file');
  const key = readPemFile(m, 'key_file');
  const clientCa = readPemFile(m, 'client_ca_file');
  for (const k of ['cert_file', 'key_file'] as const) {
    if (!m.has(k)) m.error(k, 'is required (a TLS listener needs a certificate and its key)');
  }
  if (cert === null || key === null || m.ctx.issues.length > before) return null;
  // Checked now so that a bad pair is a config error with its line (and a reload keeps the
  // running certificate) rather than a failure at listen time. OpenSSL's message names the
  // problem ("key values mismatch", "no start line"), never the key's content.
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    m.error('key_file', `cannot use this certificate and key: ${(err as Error).message}`);
    return null;
  }
  if (clientCa !== null) {
    try {
      createSecureContext({ ca: clientCa });
    } catch (err) {
      m.error('client_ca_file', `cannot use this CA certificate: ${(err as Error).message}`);
      return null;
    }
    if (!clientCa.includes('-----BEGIN CERTIFICATE-----')) {
      // OpenSSL silently ignores a CA file without a certificate: every client would be refused.
      m.error('client_ca_file', 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
      return null;
    }
  }
  return { cert, key, clientCa };
}

function readServerAuth(server: MapReader): ServerAuthConfig | null {
  const m = server.map('auth', SERVER_AUTH_KEYS);
  if (!m) return null;
  const auth = readHttpAuth(m);
  const protectHealth = m.bool('protect_health', false);
  if (auth.basic === null && auth.bearerToken === null) {
    // An empty `auth:` would look protected and be open.
    if (!m.has('basic_auth') && !m.has('bearer_token') && !m.has('bearer_token_file')) {
      m.error('basic_auth', 'server.auth needs basic_auth or bearer_token (or bearer_token_file)');
    }
    return null;
  }
  return { ...auth, protectHealth };
}
