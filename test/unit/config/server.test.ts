/*
 * The `server:` section (src/config/server.ts): defaults, every key, and each error with its
 * file:line and key. TLS material is real (openssl, now), handed to the parser as file contents.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_DEFAULTS } from '../../../src/config/server.js';
import { CLIENT_EXT, makeCa, makeLeaf, SERVER_EXT } from '../../helpers/certs.js';
import { configOf, errorsOf, CONFIG_FILE as FILE } from '../../helpers/config.js';
import { tempDir } from '../../helpers/daemon.js';

describe('config: server', () => {
  let dir: string;
  /** What the parser may read: absolute path → content. */
  let files: Record<string, string>;

  beforeAll(async () => {
    dir = await tempDir('cer-server-config-');
    await makeCa(dir, 'ca');
    await makeLeaf(dir, 'server', SERVER_EXT);
    await makeLeaf(dir, 'other', CLIENT_EXT);
    const read = (f: string): Promise<string> => readFile(join(dir, f), 'utf8');
    files = {
      '/etc/cer/tls/server.pem': await read('server.pem'),
      '/etc/cer/tls/server.key': await read('server.key'),
      '/etc/cer/tls/ca.pem': await read('ca.pem'),
      // A valid key, but not the certificate's.
      '/etc/cer/tls/other.key': await read('other.key'),
      '/etc/cer/tls/garbage.pem': 'not a certificate\n',
      '/run/secrets/metrics-token': 'tok3n\n',
    };
  }, 30_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const TLS = 'server:\n  tls:\n    cert_file: tls/server.pem\n    key_file: tls/server.key\n';

  it('defaults: plain http, node-like timeouts, no cap, /metrics and /-/ open', () => {
    expect(configOf('').server).toEqual({
      tls: null,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
      maxConnections: 0,
      auth: null,
    });
    expect(configOf('server: {}\n').server).toEqual(SERVER_DEFAULTS);
  });

  it('reads every key; relative files resolve against the config folder and are watched', () => {
    const c = configOf(
      [
        'server:',
        '  tls:',
        '    cert_file: tls/server.pem',
        '    key_file: /etc/cer/tls/server.key',
        '    client_ca_file: tls/ca.pem',
        '  headers_timeout: 2s',
        '  request_timeout: 1m',
        '  keep_alive_timeout: 500ms',
        '  max_connections: 10000',
        '  auth:',
        '    bearer_token_file: /run/secrets/metrics-token',
        '    protect_health: true',
      ].join('\n'),
      {},
      files,
    );
    expect(c.server).toEqual({
      tls: {
        cert: files['/etc/cer/tls/server.pem'],
        key: files['/etc/cer/tls/server.key'],
        clientCa: files['/etc/cer/tls/ca.pem'],
      },
      headersTimeoutMs: 2000,
      requestTimeoutMs: 60_000,
      keepAliveTimeoutMs: 500,
      maxConnections: 10_000,
      auth: { basic: null, bearerToken: 'tok3n', protectHealth: true },
    });
    expect(c.referencedFiles).toEqual(
      expect.arrayContaining([
        '/etc/cer/tls/server.pem',
        '/etc/cer/tls/server.key',
        '/etc/cer/tls/ca.pem',
        '/run/secrets/metrics-token',
      ]),
    );
  });

  it('basic auth with the password from the environment; health open by default', () => {
    const c = configOf(
      'server:\n  auth:\n    basic_auth: { username: prom, password: "${PW}" }\n',
      { PW: 'pw' },
      files,
    );
    expect(c.server.auth).toEqual({
      basic: { username: 'prom', password: 'pw' },
      bearerToken: null,
      protectHealth: false,
    });
    expect(configOf(TLS, {}, files).server.tls?.clientCa).toBeNull();
  });

  it.each<[string, string, string[]]>([
    [
      'a zero timeout',
      'server:\n  request_timeout: 0\n',
      [`${FILE}:2: server.request_timeout: must be at least 1ms, got 0`],
    ],
    [
      'headers_timeout longer than request_timeout',
      'server:\n  headers_timeout: 1m\n  request_timeout: 30s\n',
      [
        `${FILE}:2: server.headers_timeout: must not be longer than request_timeout (which covers the headers too)`,
      ],
    ],
    [
      'a bad duration',
      'server:\n  keep_alive_timeout: soon\n',
      [`${FILE}:2: server.keep_alive_timeout: must be a duration like 500ms, 10s, 1m or 1h30m, got "soon"`],
    ],
    [
      'a negative connection cap',
      'server:\n  max_connections: -1\n',
      [`${FILE}:2: server.max_connections: must be an integer >= 0, got -1`],
    ],
    [
      'a typo',
      'server:\n  keepalive_timeout: 5s\n',
      [`${FILE}:2: server.keepalive_timeout: unknown key (did you mean "keep_alive_timeout"?)`],
    ],
    [
      'a client-side TLS key on the listener',
      `${TLS}    ca_file: tls/ca.pem\n`,
      [`${FILE}:5: server.tls.ca_file: unknown key`],
    ],
    [
      'tls without a key',
      'server:\n  tls:\n    cert_file: tls/server.pem\n',
      [`${FILE}:3: server.tls.key_file: is required (a TLS listener needs a certificate and its key)`],
    ],
    [
      'an unreadable certificate',
      'server:\n  tls:\n    cert_file: tls/missing.pem\n    key_file: tls/server.key\n',
      [`${FILE}:3: server.tls.cert_file: cannot read /etc/cer/tls/missing.pem: ENOENT`],
    ],
    [
      'a client CA file without a certificate',
      `${TLS}    client_ca_file: tls/garbage.pem\n`,
      [`${FILE}:5: server.tls.client_ca_file: holds no PEM certificate (-----BEGIN CERTIFICATE-----)`],
    ],
    [
      'an empty auth',
      'server:\n  auth: { protect_health: true }\n',
      [
        `${FILE}:2: server.auth.basic_auth: server.auth needs basic_auth or bearer_token (or bearer_token_file)`,
      ],
    ],
    [
      'both basic and bearer',
      'server:\n  auth:\n    basic_auth: { username: u, password: p }\n    bearer_token: t\n',
      [`${FILE}:4: server.auth.bearer_token: set either basic_auth or bearer_token, not both`],
    ],
    [
      'a token file that cannot be read',
      'server:\n  auth:\n    bearer_token_file: /run/secrets/none\n',
      [`${FILE}:3: server.auth.bearer_token_file: cannot read /run/secrets/none: ENOENT`],
    ],
  ])('rejects %s with file:line and key', (_name, yaml, expected) => {
    expect(errorsOf(yaml, {}, files)).toEqual(expected);
  });

  it('rejects a key that is not the certificate’s, naming the problem and never the key', () => {
    const errors = errorsOf(
      'server:\n  tls:\n    cert_file: tls/server.pem\n    key_file: tls/other.key\n',
      {},
      files,
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      new RegExp(
        `^${FILE}:4: server\\.tls\\.key_file: cannot use this certificate and key: .*key values mismatch`,
      ),
    );
    const garbage = errorsOf(
      'server:\n  tls:\n    cert_file: tls/garbage.pem\n    key_file: tls/server.key\n',
      {},
      files,
    );
    expect(garbage[0]).toMatch(/server\.tls\.key_file: cannot use this certificate and key: /);
    for (const e of [...errors, ...garbage]) {
      expect(e).not.toContain('PRIVATE KEY');
      expect(e).not.toContain((files['/etc/cer/tls/other.key'] as string).split('\n')[1]);
    }
  });
});
