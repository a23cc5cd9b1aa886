/*
 * The listener over TLS against the real daemon process, with certificates made by openssl
 * at test time: https ingest, mutual TLS, certificate rotation by reload, and `server.auth`
 * on /metrics and /-/ (health open unless `protect_health`).
 */

import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_EXT, makeCa, makeLeaf, SERVER_EXT } from '../helpers/certs.js';
import { type RunningDaemon, startDaemon, tempDir } from '../helpers/daemon.js';
import { corootAlertPayload } from '../helpers/events.js';
import { readEvents } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface ClientTls {
  ca?: string;
  cert?: string;
  key?: string;
}

/** One request on a fresh connection (no agent: each call its own handshake and certificate). */
function call(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; tls?: ClientTls } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const make = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = make(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: false, ...(opts.tls ?? {}) },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const alert = (summary: string): string => JSON.stringify(corootAlertPayload(summary));

const JSON_TYPE = { 'content-type': 'application/json' };
const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Starts the daemon over https: its URL comes from the start log, readiness is checked over TLS. */
async function startTlsDaemon(yaml: string, dir: string, tls: ClientTls): Promise<RunningDaemon> {
  const d = await startDaemon(yaml, { dir, waitReady: false });
  const started = d.logs.find((l) => l.msg === 'coroot-event-recorder started');
  expect(started?.scheme).toBe('https');
  d.baseUrl = `https://${started?.listen as string}`;
  await waitFor(async () => (await call(`${d.baseUrl}/-/ready`, { tls })).status === 200, {
    what: 'the daemon to be ready over https',
  });
  return d;
}

/** The SHA-256 fingerprint of the certificate the daemon presents now. */
function servedFingerprint(baseUrl: string, ca: string): Promise<string> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: u.hostname, port: Number(u.port), ca, servername: 'localhost' }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

describe('ingest over TLS', () => {
  let dir: string;
  let pem: Record<'ca' | 'client' | 'clientKey' | 'intruder' | 'intruderKey', string>;

  beforeAll(async () => {
    dir = await tempDir('cer-tls-');
    await makeCa(dir, 'ca');
    await makeLeaf(dir, 'server', SERVER_EXT);
    await makeLeaf(dir, 'client', CLIENT_EXT);
    // A client certificate from a CA the daemon does not trust.
    await makeCa(dir, 'other');
    await makeLeaf(dir, 'intruder', CLIENT_EXT, 'other');
    const read = (f: string): Promise<string> => readFile(join(dir, f), 'utf8');
    pem = {
      ca: await read('ca.pem'),
      client: await read('client.pem'),
      clientKey: await read('client.key'),
      intruder: await read('intruder.pem'),
      intruderKey: await read('intruder.key'),
    };
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('https with server.auth (bearer token from a file)', () => {
    let d: RunningDaemon;
    const config = (extra: string): string => `
server:
  tls:
    cert_file: ./server.pem
    key_file: ./server.key
${extra}
file_outputs:
  - path: ./out/events.jsonl
`;
    const AUTH = '  auth:\n    bearer_token_file: ./metrics-token\n';

    beforeAll(async () => {
      await writeFile(join(dir, 'metrics-token'), 's3cret-token\n');
      d = await startTlsDaemon(config(AUTH), dir, { ca: pem.ca });
    });

    afterAll(async () => {
      await d?.stop();
    });

    it('takes ingest over https', async () => {
      const res = await call(`${d.baseUrl}/api/v1/coroot`, {
        method: 'POST',
        headers: JSON_TYPE,
        body: alert('over tls'),
        tls: { ca: pem.ca },
      });
      expect(res.status, res.text).toBe(202);
      await waitFor(async () =>
        (await readEvents(join(dir, 'out/events.jsonl'))).some((e) => e.data.alert?.summary === 'over tls'),
      );
    });

    it('refuses plain http on the TLS port', async () => {
      const plain = d.baseUrl.replace('https:', 'http:');
      await expect(call(`${plain}/-/healthy`)).rejects.toThrow();
      // ...and still serves https afterwards.
      expect((await call(`${d.baseUrl}/-/healthy`, { tls: { ca: pem.ca } })).status).toBe(200);
    });

    it('refuses a client that does not trust the certificate', async () => {
      await expect(call(`${d.baseUrl}/-/healthy`)).rejects.toThrow(
        /self-signed|unable to verify|certificate/i,
      );
    });

    it('guards /metrics and /-/reload with server.auth, and leaves the health probes open', async () => {
      const tls = { ca: pem.ca };
      for (const [path, method] of [
        ['/metrics', 'GET'],
        ['/-/reload', 'POST'],
      ] as const) {
        const none = await call(`${d.baseUrl}${path}`, { method, tls });
        expect(none.status, path).toBe(401);
        expect(none.headers['www-authenticate']).toMatch(/^Bearer realm="coroot-event-recorder"/);
        const wrong = await call(`${d.baseUrl}${path}`, {
          method,
          tls,
          headers: { authorization: 'Bearer nope' },
        });
        expect(wrong.status, path).toBe(401);
        expect(wrong.text).not.toContain('s3cret');
      }
      const auth = { authorization: 'Bearer s3cret-token' };
      const metrics = await call(`${d.baseUrl}/metrics`, { tls, headers: auth });
      expect(metrics.status).toBe(200);
      expect(metrics.text).toContain('coroot_event_recorder_build_info');
      expect(metrics.text).not.toContain('s3cret');
      expect((await call(`${d.baseUrl}/-/healthy`, { tls })).status).toBe(200);
      expect((await call(`${d.baseUrl}/-/ready`, { tls })).status).toBe(200);
      // The ingest endpoints have their own auth (none here): server.auth does not apply.
      const ingest = await call(`${d.baseUrl}/api/v1/coroot`, {
        method: 'POST',
        headers: JSON_TYPE,
        body: alert('no server auth on ingest'),
        tls,
      });
      expect(ingest.status).toBe(202);
    });

    it('serves a rotated certificate after the reload its files trigger', async () => {
      const before = await servedFingerprint(d.baseUrl, pem.ca);
      // The renewed pair is made beside the live one and renamed into place, as cert-manager
      // and the kubelet's secret volume swap do.
      await makeLeaf(dir, 'renewed', SERVER_EXT);
      const renewed = new X509Certificate(await readFile(join(dir, 'renewed.pem'), 'utf8')).fingerprint256;
      expect(renewed).not.toBe(before);
      await rename(join(dir, 'renewed.key'), join(dir, 'server.key'));
      await rename(join(dir, 'renewed.pem'), join(dir, 'server.pem'));
      await waitFor(() => d.logs.some((l) => l.msg === 'server TLS certificate reloaded'), {
        what: 'the certificate to be reloaded',
      });
      expect(await servedFingerprint(d.baseUrl, pem.ca)).toBe(renewed);
      expect((await call(`${d.baseUrl}/-/healthy`, { tls: { ca: pem.ca } })).status).toBe(200);
      expect(d.rawStderr()).not.toMatch(/PRIVATE KEY|s3cret/);
    });

    it('applies a removed server.auth at once, but keeps https until a restart', async () => {
      await writeFile(d.configPath, 'file_outputs:\n  - path: ./out/events.jsonl\n');
      await waitFor(
        () =>
          d.logs.some(
            (l) => l.msg === 'server.tls changed the listener mode; needs restart, keeping the running mode',
          ),
        { what: 'the needs-restart warning' },
      );
      const tls = { ca: pem.ca };
      // Without server.auth, /metrics and /-/ are open again...
      await waitFor(async () => (await call(`${d.baseUrl}/metrics`, { tls })).status === 200, {
        what: '/metrics to be open',
      });
      // ...and the listener still speaks TLS with the running certificate.
      expect((await call(`${d.baseUrl}/-/healthy`, { tls })).status).toBe(200);
    });
  });

  describe('mutual TLS (client_ca_file) with basic auth and protect_health', () => {
    let d: RunningDaemon;
    const mtls = (): ClientTls => ({ ca: pem.ca, cert: pem.client, key: pem.clientKey });

    beforeAll(async () => {
      await copyFile(join(dir, 'server.pem'), join(dir, 'm-server.pem'));
      await copyFile(join(dir, 'server.key'), join(dir, 'm-server.key'));
      const sub = join(dir, 'mtls');
      await mkdir(sub);
      d = await startDaemon(
        `
server:
  tls:
    cert_file: ../m-server.pem
    key_file: ../m-server.key
    client_ca_file: ../ca.pem
  auth:
    basic_auth: { username: prom, password: "\${METRICS_PASSWORD}" }
    protect_health: true
file_outputs:
  - path: ./out/events.jsonl
`,
        { dir: sub, waitReady: false, env: { METRICS_PASSWORD: 'hunter2' } },
      );
      const started = d.logs.find((l) => l.msg === 'coroot-event-recorder started');
      d.baseUrl = `https://${started?.listen as string}`;
    });

    afterAll(async () => {
      await d?.stop();
    });

    it('refuses a client without a certificate', async () => {
      await expect(call(`${d.baseUrl}/-/healthy`, { tls: { ca: pem.ca } })).rejects.toThrow(
        /certificate|socket hang up|ECONNRESET/i,
      );
    });

    it('refuses a client certificate from another CA', async () => {
      await expect(
        call(`${d.baseUrl}/-/healthy`, { tls: { ca: pem.ca, cert: pem.intruder, key: pem.intruderKey } }),
      ).rejects.toThrow(/certificate|unknown ca|socket hang up|ECONNRESET/i);
    });

    it('takes ingest from a client with a certificate from the configured CA', async () => {
      const res = await call(`${d.baseUrl}/api/v1/coroot`, {
        method: 'POST',
        headers: JSON_TYPE,
        body: alert('mutual tls'),
        tls: mtls(),
      });
      expect(res.status, res.text).toBe(202);
    });

    it('with protect_health, the probes need the credentials too', async () => {
      for (const path of ['/-/healthy', '/-/ready', '/metrics']) {
        const none = await call(`${d.baseUrl}${path}`, { tls: mtls() });
        expect(none.status, path).toBe(401);
        expect(none.headers['www-authenticate']).toMatch(/^Basic realm="coroot-event-recorder"/);
        expect(
          (
            await call(`${d.baseUrl}${path}`, {
              tls: mtls(),
              headers: { authorization: basic('prom', 'nope') },
            })
          ).status,
        ).toBe(401);
        const ok = await call(`${d.baseUrl}${path}`, {
          tls: mtls(),
          headers: { authorization: basic('prom', 'hunter2') },
        });
        expect(ok.status, path).toBe(200);
      }
      expect(d.rawStderr()).not.toContain('hunter2');
      // Nor does any line of the private key's body (secrets kept, issue 7).
      const keyLines = (await readFile(join(dir, 'm-server.key'), 'utf8')).split('\n').slice(1, -2);
      expect(keyLines.length).toBeGreaterThan(0);
      for (const line of keyLines) expect(d.rawStderr()).not.toContain(line);
    });
  });

  describe('plain http without server.auth', () => {
    let d: RunningDaemon;
    beforeAll(async () => {
      d = await startDaemon('server:\n  max_connections: 3\nfile_outputs:\n  - path: ./out/events.jsonl\n');
    });
    afterAll(async () => {
      await d?.stop();
    });

    it('leaves /metrics and /-/ open', async () => {
      expect(d.logs.find((l) => l.msg === 'coroot-event-recorder started')?.scheme).toBe('http');
      for (const path of ['/metrics', '/-/healthy', '/-/ready']) {
        expect((await call(`${d.baseUrl}${path}`)).status, path).toBe(200);
      }
      expect((await call(`${d.baseUrl}/-/reload`, { method: 'POST' })).status).toBe(200);
    });

    it('closes connections past max_connections at once, and takes new ones when some go', async () => {
      const port = Number(new URL(d.baseUrl).port);
      // Each holds its connection open (keep-alive) once answered; past the cap, the server
      // closes the socket without a word.
      const attempts = await Promise.all(
        Array.from(
          { length: 6 },
          () =>
            new Promise<{ socket: Socket; answered: boolean }>((resolve) => {
              const socket = netConnect(port, '127.0.0.1', () =>
                socket.write('GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n'),
              );
              socket.on('data', () => resolve({ socket, answered: true }));
              socket.on('close', () => resolve({ socket, answered: false }));
              socket.on('error', () => resolve({ socket, answered: false }));
            }),
        ),
      );
      const answered = attempts.filter((a) => a.answered).length;
      expect(answered).toBeGreaterThanOrEqual(1);
      expect(answered).toBeLessThanOrEqual(3);
      for (const a of attempts) a.socket.destroy();
      await waitFor(async () => (await call(`${d.baseUrl}/-/healthy`)).status === 200, {
        what: 'a connection to be taken again',
      });
    });
  });
});
