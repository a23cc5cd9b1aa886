import type { ConnectionOptions } from 'node:tls';

/** TLS material as the config reads it (PEM contents, not paths). */
export interface TlsSettings {
  ca: string | null;
  cert: string | null;
  key: string | null;
  serverName: string | null;
  insecureSkipVerify: boolean;
}

/**
 * Node `tls.connect` options for a client (webhook and Kafka outputs). Unset fields are left to
 * Node's defaults (system CAs); Node checks the certificate against `servername` when given
 * (and sends it as SNI).
 */
export function tlsClientOptions(tls: TlsSettings): ConnectionOptions {
  const options: ConnectionOptions = { rejectUnauthorized: !tls.insecureSkipVerify };
  if (tls.ca !== null) options.ca = tls.ca;
  if (tls.cert !== null) options.cert = tls.cert;
  if (tls.key !== null) options.key = tls.key;
  if (tls.serverName !== null) options.servername = tls.serverName;
  return options;
}
