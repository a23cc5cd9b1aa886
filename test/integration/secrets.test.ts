/*
 * Secrets kept (issue 7): the compiled daemon runs at --log-level debug with every kind of
 * secret configured — ingest basic auth and bearer token, webhook basic auth and bearer
 * token (inline, `${ENV}` and `*_file`), webhook URL userinfo and query token, a custom
 * header, Kafka SASL plain and SCRAM passwords (inline from the environment and by file),
 * Coroot API passwords (inline, environment, file) and the session cookie Coroot hands out.
 * Then every failure path where leaks usually happen is driven: webhook receivers answering
 * 401 and 500 (and echoing the credentials back), unreachable and unresolvable hosts,
 * Kafka brokers down, Coroot logins refused by servers that echo the request, wrong
 * credentials at ingest, a reload that changes passwords, a broken config full of secrets
 * (reload and --check-config). Everything the daemon says — logs of every level, /metrics,
 * HTTP error answers, the reload failure text, --check-config output, the JSONL file with
 * its config_reloaded events — is searched for every secret in every usual encoding.
 *
 * The Kafka half against a real broker with a SASL listener (authentication failures)
 * is in secrets-kafka.test.ts.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, runCli, startDaemon, tempDir } from '../helpers/daemon.js';
import { FakeCoroot } from '../helpers/fake-coroot.js';
import { loadFixture } from '../helpers/fixtures.js';
import { sampleSum, scrape } from '../helpers/metrics.js';
import { freePort } from '../helpers/net.js';
import { readEvents } from '../helpers/schema.js';
import { SecretSet, secretValue } from '../helpers/secrets.js';
import { waitFor } from '../helpers/wait.js';

const M = 'coroot_event_recorder_';

interface Seen {
  path: string;
  authorization: string | undefined;
  headers: IncomingMessage['headers'];
}

/**
 * A badly behaved HTTP peer: webhook paths answer 200, 401 or 500 and echo the request's
 * credentials in the body; `/c400/api/login` and `/c500/api/login` act as a Coroot behind
 * a proxy that echoes the login request (password included) in its error page.
 */
class EchoReceiver {
  readonly seen: Seen[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<EchoReceiver> {
    let receiver: EchoReceiver | null = null;
    const server = createServer((req, res) => receiver?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver = new EchoReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return receiver;
  }

  at(path: string): Seen[] {
    return this.seen.filter((s) => s.path === path);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      this.seen.push({ path, authorization: req.headers.authorization, headers: req.headers });
      // Body first: clients quote only the start of an error page.
      const echo = JSON.stringify({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      const status = path.startsWith('/ok')
        ? 200
        : path === '/401'
          ? 401
          : path.startsWith('/c400')
            ? 400
            : 500;
      const extra: Record<string, string> =
        status === 401 ? { 'www-authenticate': `Basic realm="echo ${req.headers.authorization}"` } : {};
      res.writeHead(status, { 'content-type': 'text/plain', ...extra });
      res.end(status === 200 ? 'ok' : `denied: ${echo}`);
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Runs the CLI to its exit; stdout and stderr together. */
async function runCliOutput(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  const { code, stdout, stderr } = await runCli(args, { env });
  return { code, output: stdout + stderr };
}

/** An HTTP answer as text: status line, every header, body. */
async function answerText(res: Response): Promise<string> {
  const headers = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
  return `HTTP ${res.status}\n${headers}\n\n${await res.text()}`;
}

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('secrets never leave the daemon', () => {
  const secrets = new SecretSet();
  // Characters that must be percent-encoded in a URL's userinfo: the config holds the
  // encoded form, the Authorization header the decoded one; both are searched for.
  const URL_SUFFIX = '@:/';
  const s = {
    ingestBasic: secrets.add('ingest-basic', { basicUser: 'ingest-user' }),
    ingestBasicReloaded: secrets.add('ingest-basic-reloaded', { basicUser: 'ingest-user' }),
    ingestToken: secrets.add('ingest-token'),
    hookBasicFile: secrets.add('hook-basic-file', { basicUser: 'hook-user' }),
    hookBasicInline: secrets.add('hook-basic-inline', { basicUser: 'hook-user2' }),
    hookBasicInlineReloaded: secrets.add('hook-basic-inline-reloaded', { basicUser: 'hook-user2' }),
    hookTokenFile: secrets.add('hook-token-file'),
    hookTokenEnv: secrets.add('hook-token-env'),
    hookHeader: secrets.add('hook-header'),
    urlPassword: secrets.add('url-password', { suffix: URL_SUFFIX, basicUser: 'url-user' }),
    urlPassword2: secrets.add('url-password2', { suffix: URL_SUFFIX, basicUser: 'url-user' }),
    urlQuery: secrets.add('url-query'),
    kafkaPlainEnv: secrets.add('kafka-plain-env'),
    kafkaScramFile: secrets.add('kafka-scram-file'),
    corootGood: secrets.add('coroot-good'),
    corootWrongEnv: secrets.add('coroot-wrong-env'),
    corootEcho400: secrets.add('coroot-echo400'),
    corootEcho500: secrets.add('coroot-echo500'),
    brokenConfig: secrets.add('broken-config-url-password'),
  };
  const env: NodeJS.ProcessEnv = {
    CER_TEST_INGEST_TOKEN: s.ingestToken,
    CER_TEST_HOOK_TOKEN: s.hookTokenEnv,
    CER_TEST_KAFKA_PASSWORD: s.kafkaPlainEnv,
    CER_TEST_COROOT_PASSWORD: s.corootWrongEnv,
  };

  let dir: string;
  let receiver: EchoReceiver;
  let corootGood: FakeCoroot;
  let corootWrong: FakeCoroot;
  let config: (v: { hookBasicInline: string }) => string;
  let brokenConfig: string;
  let d: RunningDaemon | null = null;

  beforeAll(async () => {
    dir = await tempDir('cer-secrets-');
    receiver = await EchoReceiver.start();
    corootGood = await FakeCoroot.start({
      project: 'good',
      email: 'bot@example.com',
      password: s.corootGood,
    });
    // Knows another password than the one configured: every login is refused.
    corootWrong = await FakeCoroot.start({
      project: 'wrong',
      email: 'bot@example.com',
      password: secretValue('unused'),
    });
    const [deadHook, deadKafka] = [await freePort(), await freePort()];
    await writeFile(join(dir, 'ingest-basic.pass'), `${s.ingestBasic}\n`);
    await writeFile(join(dir, 'hook-basic.pass'), `${s.hookBasicFile}\n`);
    await writeFile(join(dir, 'hook.token'), s.hookTokenFile);
    await writeFile(join(dir, 'kafka.pass'), `${s.kafkaScramFile}\n`);
    await writeFile(join(dir, 'coroot.pass'), `${s.corootGood}\n`);
    const enc = encodeURIComponent;
    config = (v) => `
instance: secrets-test
shutdown_timeout: 3s
ingest:
  coroot:
    basic_auth: { username: ingest-user, password_file: ./ingest-basic.pass }
  alertmanager:
    bearer_token: \${CER_TEST_INGEST_TOKEN}
  coroot_api:
    - url: ${corootGood.url}
      project: good
      email: bot@example.com
      password_file: ./coroot.pass
      interval: 100ms
    - url: ${corootWrong.url}
      project: wrong
      email: bot@example.com
      password: \${CER_TEST_COROOT_PASSWORD}
      interval: 100ms
    - url: ${receiver.url}/c400
      project: echo400
      email: bot@example.com
      password: "${s.corootEcho400}"
      interval: 100ms
    - url: ${receiver.url}/c500
      project: echo500
      email: bot@example.com
      password: "${s.corootEcho500}"
      interval: 100ms
file_outputs:
  - path: ./events.jsonl
    fsync: none
webhook_outputs:
  - name: hook-401
    url: ${receiver.url}/401
    basic_auth: { username: hook-user, password_file: ./hook-basic.pass }
  - name: hook-500
    url: ${receiver.url}/500
    bearer_token_file: ./hook.token
    max_attempts: 2
    retry_backoff: 10ms
  - url: http://url-user:${enc(s.urlPassword)}@127.0.0.1:${deadHook}/hook?token=${s.urlQuery}
    max_attempts: 2
    retry_backoff: 10ms
    timeout: 2s
  - url: http://url-user:${enc(s.urlPassword2)}@secrets-test.invalid/hook
    max_attempts: 2
    retry_backoff: 10ms
    timeout: 2s
  - name: hook-ok-token
    url: ${receiver.url}/ok-token
    bearer_token: \${CER_TEST_HOOK_TOKEN}
    headers: { X-Api-Key: "${s.hookHeader}" }
  - name: hook-ok-basic
    url: ${receiver.url}/ok-basic
    basic_auth: { username: hook-user2, password: "${v.hookBasicInline}" }
kafka_outputs:
  - name: kafka-plain
    brokers: [127.0.0.1:${deadKafka}]
    topic: secrets
    sasl: { mechanism: plain, username: kafka-user, password: "\${CER_TEST_KAFKA_PASSWORD}" }
  - name: kafka-scram
    brokers: [127.0.0.1:${deadKafka}]
    topic: secrets
    sasl: { mechanism: scram-sha-512, username: kafka-user, password_file: ./kafka.pass }
`;
    // Every secret again, each next to an error: the errors must name key and line only.
    brokenConfig = `${config({ hookBasicInline: s.hookBasicInline })
      .replace('shutdown_timeout: 3s', 'shutdown_timeout: soon')
      .replace('password_file: ./ingest-basic.pass }', 'password_file: ./ingest-basic.pass, pasword: x }')
      .replace('fsync: none', 'fsync: sometimes')}
    tls: { ca_file: ./missing-ca.pem }
  - brokers: [127.0.0.1:9092]
    topic: "no spaces allowed"
    sasl: { mechanism: scram-sha-256, username: kafka-user, password: "\${CER_TEST_KAFKA_PASSWORD}", password_file: ./kafka.pass }
  - brokers: [127.0.0.1:9092]
    topic: other
    sasl: { mechanism: plain, username: kafka-user, password_file: ./missing.pass }
`.replace(
      `    - url: ${corootGood.url}\n`,
      // A URL that does not parse, with a password in its userinfo.
      `    - url: http://bot:${s.brokenConfig}@coroot.example.com:99999/\n      project: broken\n      email: bot@example.com\n      password: x\n    - url: ${corootGood.url}\n`,
    );
  });

  afterAll(async () => {
    await d?.stop('SIGKILL');
    await Promise.all([receiver?.close(), corootGood?.close(), corootWrong?.close()]);
  });

  it('the grep finds a planted secret in every form a leak takes', () => {
    const probe = new SecretSet();
    const pw = probe.add('probe', { suffix: URL_SUFFIX, basicUser: 'u' });
    const hex = pw.slice('probe-'.length, 'probe-'.length + 32);
    for (const text of [
      `error: ${pw}`,
      `https://u:${encodeURIComponent(pw)}@host/`,
      JSON.stringify({ password: pw }),
      `authorization: ${basic('u', pw)}`,
      `Basic ${Buffer.from(`other-user:${pw}`).toString('base64')}`,
      `snippet: ${pw.slice(0, 'probe-'.length + 20)}…`,
      `…${hex.slice(10)}`,
    ]) {
      expect(probe.leaksIn(text), text).toHaveLength(1);
    }
    expect(probe.leaksIn(`error: probe-${'0'.repeat(32)} u:x`)).toEqual([]);
  });

  it('logs, /metrics, error answers, reload failures and config_reloaded events hold none of them', async () => {
    d = await startDaemon(config({ hookBasicInline: s.hookBasicInline }), { dir, env });
    const daemon = d;
    const answers: string[] = [];
    const call = async (path: string, init: RequestInit = {}): Promise<Response> => {
      const res = await fetch(`${daemon.baseUrl}${path}`, init);
      if (res.status >= 400)
        answers.push(`${init.method ?? 'GET'} ${path}\n${await answerText(res.clone())}`);
      return res;
    };
    const ingest = (path: string, body: unknown, authorization?: string): Promise<Response> =>
      call(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const alert = loadFixture('coroot/alert-firing-warning.json');
    const amAlert = loadFixture('alertmanager/firing-single-alert.json');

    // Ingest auth: missing, wrong and right credentials; a bad body with right credentials.
    expect((await ingest('/api/v1/coroot', alert)).status).toBe(401);
    expect((await ingest('/api/v1/coroot', alert, basic('ingest-user', `${s.ingestBasic}x`))).status).toBe(
      401,
    );
    expect((await ingest('/api/v1/coroot', alert, `Bearer ${s.ingestBasic}`)).status).toBe(401);
    expect((await ingest('/api/v1/coroot', alert, basic('ingest-user', s.ingestBasic))).status).toBe(202);
    expect((await ingest('/api/v1/coroot', '{"broken', basic('ingest-user', s.ingestBasic))).status).toBe(
      400,
    );
    // Any object is kept as `unrecognized`; a body that is not one is refused.
    expect((await ingest('/api/v1/coroot', '[1]', basic('ingest-user', s.ingestBasic))).status).toBe(400);
    expect((await ingest('/api/v1/alertmanager', amAlert, `Bearer ${s.ingestToken}x`)).status).toBe(401);
    expect((await ingest('/api/v1/alertmanager', amAlert, basic('x', s.ingestToken))).status).toBe(401);
    expect((await ingest('/api/v1/alertmanager', amAlert, `Bearer ${s.ingestToken}`)).status).toBe(202);
    expect(
      (await call('/api/v1/nowhere', { headers: { authorization: `Bearer ${s.ingestToken}` } })).status,
    ).toBe(404);
    expect((await call('/metrics', { method: 'POST' })).status).toBe(405);

    // Every secret path is exercised: the receivers got the configured credentials.
    const deliveredTo = (path: string): Seen | undefined => receiver.at(path)[0];
    await waitFor(
      () =>
        ['/401', '/500', '/ok-token', '/ok-basic'].every((p) => receiver.at(p).length > 0) &&
        receiver.at('/500').length >= 2,
      { what: 'every webhook receiver to be called' },
    );
    expect(deliveredTo('/401')?.authorization).toBe(basic('hook-user', s.hookBasicFile));
    expect(deliveredTo('/500')?.authorization).toBe(`Bearer ${s.hookTokenFile}`);
    expect(deliveredTo('/ok-token')?.authorization).toBe(`Bearer ${s.hookTokenEnv}`);
    expect(deliveredTo('/ok-token')?.headers['x-api-key']).toBe(s.hookHeader);
    expect(deliveredTo('/ok-basic')?.authorization).toBe(basic('hook-user2', s.hookBasicInline));
    // Coroot logins: the good one holds a session (its cookie is a secret too), the others fail.
    await waitFor(() => corootGood.logins > 0 && corootGood.alertRequests().length > 0, {
      what: 'the good Coroot poller to log in and list',
    });
    await waitFor(() => corootWrong.requests.some((r) => r.path === '/api/login'), {
      what: 'the refused Coroot login',
    });
    expect(receiver.at('/c400/api/login')[0]?.headers['content-type']).toBe('application/json');
    await waitFor(() => receiver.at('/c500/api/login').length > 0, { what: 'the echo Coroot login' });

    // The failures are logged (so their text was produced and is searched below).
    const logged = (pred: (l: { msg: string; [k: string]: unknown }) => boolean, what: string) =>
      waitFor(() => daemon.logs.find(pred), { what, timeoutMs: 20_000 });
    await logged((l) => l.msg.includes('rejected events') && l.output === 'hook-401', 'the 401 rejection');
    await logged(
      (l) => l.msg.includes('after the last attempt') && l.output === 'hook-500',
      'the 500 retries exhausted',
    );
    await logged(
      (l) => l.msg.includes('after the last attempt') && String(l.output).includes('127.0.0.1'),
      'the unreachable webhook given up',
    );
    await logged(
      (l) => l.msg.includes('after the last attempt') && String(l.output).includes('.invalid'),
      'the unresolvable webhook given up',
    );
    await logged((l) => l.msg.includes('cannot connect') && l.output === 'kafka-plain', 'kafka plain down');
    await logged((l) => l.msg.includes('cannot connect') && l.output === 'kafka-scram', 'kafka scram down');
    for (const project of ['wrong', 'echo400', 'echo500']) {
      await logged(
        (l) => l.msg === 'coroot api poll failed' && l.project === project,
        `poll of ${project} failed`,
      );
    }
    const echoed = daemon.logs.find((l) => l.msg === 'coroot api poll failed' && l.project === 'echo400');
    // The echo went into the message, with the password taken out.
    expect(String(echoed?.err)).toContain('<redacted>');

    // A reload that changes passwords: the ingest password file and an inline webhook password.
    await writeFile(join(dir, 'ingest-basic.pass'), `${s.ingestBasicReloaded}\n`);
    await writeFile(daemon.configPath, config({ hookBasicInline: s.hookBasicInlineReloaded }));
    expect((await call('/-/reload', { method: 'POST' })).status).toBe(200);
    const file = join(dir, 'events.jsonl');
    await waitFor(async () => (await readEvents(file)).some((e) => e.type === 'config_reloaded'), {
      what: 'a config_reloaded event',
    });
    expect((await ingest('/api/v1/coroot', alert, basic('ingest-user', s.ingestBasic))).status).toBe(401);
    expect((await ingest('/api/v1/coroot', alert, basic('ingest-user', s.ingestBasicReloaded))).status).toBe(
      202,
    );
    await waitFor(
      () =>
        receiver
          .at('/ok-basic')
          .some((r) => r.authorization === basic('hook-user2', s.hookBasicInlineReloaded)),
      { what: 'the webhook to use the reloaded password' },
    );

    // A broken config full of secrets: the reload fails and says why, without values.
    await writeFile(daemon.configPath, brokenConfig);
    const failed = await call('/-/reload', { method: 'POST' });
    expect(failed.status).toBe(500);
    const reloadText = await failed.text();
    expect(reloadText).toContain('ingest.coroot_api[0].url');
    expect(reloadText).toContain('shutdown_timeout');

    const metrics = await scrape(daemon.baseUrl);
    expect(
      sampleSum(metrics, `${M}coroot_api_polls_total`, { project: 'wrong', result: 'error_auth' }),
    ).toBeGreaterThan(0);
    // The session cookies Coroot handed out are secrets as well.
    for (const [i, cookie] of corootGood.issued.entries()) secrets.plant(`coroot-session-${i}`, cookie);
    expect(corootGood.issued.length).toBeGreaterThan(0);

    expect(await daemon.stop('SIGTERM')).toBe(0);
    const events = await readFile(file, 'utf8');
    expect(events).toContain('"config_reloaded"');

    secrets.assertNoLeaks('the daemon log (stderr, --log-level debug)', daemon.rawStderr());
    secrets.assertNoLeaks('/metrics', metrics);
    secrets.assertNoLeaks('HTTP error answers', answers.join('\n\n'));
    secrets.assertNoLeaks('the /-/reload failure', reloadText);
    secrets.assertNoLeaks('the JSONL file (config_reloaded events included)', events);
    // The searches above had something to search.
    expect(daemon.logs.filter((l) => l.level === 'debug').length).toBeGreaterThan(0);
    expect(answers.length).toBeGreaterThanOrEqual(8);
  });

  it('--check-config of a broken config holding secrets names keys and lines, never values', async () => {
    const path = join(dir, 'broken.yaml');
    await writeFile(path, brokenConfig);
    const broken = await runCliOutput(['--config', path, '--check-config'], env);
    expect(broken.code).toBe(1);
    expect(broken.output).toMatch(/broken\.yaml:\d+: ingest\.coroot_api\[0\]\.url: /);
    expect(broken.output).toMatch(/broken\.yaml:\d+: kafka_outputs\[3\]\.sasl\.password_file: /);
    secrets.assertNoLeaks('--check-config on a broken config', broken.output);

    // The same broken config given to the daemon itself: it logs the errors and exits.
    const start = await runCliOutput(['--config', path, '--log-level', 'debug'], env);
    expect(start.code).toBe(1);
    expect(start.output).toContain('invalid configuration');
    secrets.assertNoLeaks('the daemon refusing a broken config', start.output);

    const goodPath = join(dir, 'good.yaml');
    await writeFile(goodPath, config({ hookBasicInline: s.hookBasicInline }));
    const good = await runCliOutput(['--config', goodPath, '--check-config'], env);
    expect(good.output).toContain('SUCCESS');
    secrets.assertNoLeaks('--check-config on a valid config', good.output);
  });
});
