/*
 * Coroot API pull mode end to end: the compiled daemon polls a fake Coroot that speaks
 * docs/coroot.md's shapes, through open → suppressed → reopened (while the recorder was down)
 * → manually resolved, with a restart in the middle, a config reload and every failure kind.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, type RunningDaemon, startDaemon, tempDir } from '../helpers/daemon.js';
import { FakeCoroot } from '../helpers/fake-coroot.js';
import { loadFixture } from '../helpers/fixtures.js';
import { sampleSum, scrape } from '../helpers/metrics.js';
import { freePort } from '../helpers/net.js';
import { readEvents } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';

const M = 'coroot_event_recorder_';
const PROJECT = 'x0xwl4jz';
const PASSWORD = 'c0r00t-bot-pa55';
const A = 'k3v9q2m8x1za'; // the alert of test/fixtures/coroot/alert-firing-warning.json
const H = 'h0000000000a'; // resolved before the recorder ever looked

type Ev = {
  type: string;
  source: string;
  fingerprint: string;
  data: { alert?: Record<string, unknown> };
};

describe('Coroot API pull mode', () => {
  let fake: FakeCoroot;
  let d: RunningDaemon;
  let dir: string;
  let yaml: (notFoundInterval: string) => string;
  let file: string;

  const events = (): Promise<Ev[]> => readEvents<Ev>(file);
  const about = async (id: string): Promise<Ev[]> =>
    (await events()).filter((e) => e.source === 'coroot_api' && e.data.alert?.id === id);
  const polls = async (result: string, project = PROJECT): Promise<number> =>
    sampleSum(await scrape(d.baseUrl), `${M}coroot_api_polls_total`, { project, result });
  /** Waits for `n` more successful polls of the main project: "nothing happened" needs a poll to prove it. */
  async function morePolls(n: number): Promise<void> {
    const start = await polls('ok');
    await waitFor(async () => (await polls('ok')) >= start + n, { what: `${n} more polls` });
  }

  beforeAll(async () => {
    fake = await FakeCoroot.start({ project: PROJECT, email: 'bot@example.com', password: PASSWORD });
    fake.open(A, 4);
    fake.open(H, 2, { opened_at: Date.now() - 3_600_000 });
    fake.resolve(H);
    dir = await tempDir('cer-pull-');
    await mkdir(join(dir, 'secrets'));
    await writeFile(join(dir, 'secrets/coroot'), `${PASSWORD}\n`);
    const deadPort = await freePort();
    yaml = (notFoundInterval) => `
instance: it-pull
ingest:
  coroot_api:
    - url: ${fake.url}
      project: ${PROJECT}
      email: bot@example.com
      password_file: ./secrets/coroot
      interval: 100ms
      max_backoff: 400ms
      timeout: 2s
      state_file: ./state/${PROJECT}.json
    - url: ${fake.url}
      project: nope0000
      email: bot@example.com
      password_file: ./secrets/coroot
      interval: ${notFoundInterval}
      max_backoff: 400ms
    - url: http://127.0.0.1:${deadPort}
      project: deadbeef
      interval: 100ms
      max_backoff: 400ms
      timeout: 1s
file_outputs:
  - path: ./out/events.jsonl
`;
    file = join(dir, 'out/events.jsonl');
    d = await startDaemon(yaml('100ms'), { dir });
  });
  afterAll(async () => {
    await d?.stop();
    await fake?.close();
  });

  it('logs in, records the open alert on the first poll and not the history', async () => {
    const [first] = await waitFor(async () => {
      const list = await about(A);
      return list.length > 0 ? list : null;
    });
    expect(first).toMatchObject({
      type: 'alert_firing',
      data: { alert: { id: A, status: 'firing', resolution: null, project: { id: PROJECT } } },
    });
    await morePolls(2);
    expect(await about(A)).toHaveLength(1);
    expect(await about(H)).toEqual([]);
    expect(fake.logins).toBeGreaterThanOrEqual(1);
    const request = fake.alertRequests().find((r) => r.query.get('offset') === '0');
    expect(request?.query.get('include_resolved')).toBe('true');
    expect(request?.cookie).toMatch(/^coroot_session=[0-9a-f]{32}$/);
  });

  it('gives the alert the same fingerprint as the webhook path', async () => {
    const res = await post(`${d.baseUrl}/api/v1/coroot`, loadFixture('coroot/alert-firing-warning.json'));
    expect(res.status).toBe(202);
    const webhook = await waitFor(async () => (await events()).find((e) => e.source === 'coroot'));
    const [pulled] = await about(A);
    expect(pulled?.fingerprint).toBe(webhook.fingerprint);
    expect(pulled?.data.alert?.url).toBe(`${fake.url}/p/${PROJECT}/alerts?alert=${A}`);
  });

  it('records a suppression as alert_resolved with resolution suppressed', async () => {
    fake.suppress(A, 'ops@example.com');
    const resolved = await waitFor(async () => (await about(A)).find((e) => e.type === 'alert_resolved'));
    expect(resolved.data.alert).toMatchObject({
      status: 'resolved',
      resolution: 'suppressed',
      resolved_by: 'ops@example.com',
    });
  });

  it('keeps its state across a restart: open alerts are not re-emitted, a change made while down is recorded once', async () => {
    const C = 'c0000000000o';
    fake.open(C, 3);
    await waitFor(async () => (await about(C)).length === 1);
    const stateFile = join(dir, `state/${PROJECT}.json`);
    await waitFor(async () => {
      const saved = JSON.parse(await readFile(stateFile, 'utf8')) as { alerts: Record<string, string> };
      return saved.alerts[A] === 'suppressed' && saved.alerts[C] === 'open' && saved.alerts[H] === 'resolved';
    });
    expect(await d.stop()).toBe(0);
    fake.reopen(A);
    d = await startDaemon(yaml('100ms'), { dir });
    await waitFor(async () => (await about(A)).length === 3, { what: 'the reopen' });
    await morePolls(3);
    expect((await about(A)).map((e) => e.type)).toEqual(['alert_firing', 'alert_resolved', 'alert_firing']);
    expect(await about(C)).toHaveLength(1);
    expect(await about(H)).toEqual([]);
  });

  it('records a manual resolve with who did it and how long it lasted', async () => {
    fake.manuallyResolve(A, 'jane.doe@example.com');
    const last = await waitFor(async () => {
      const list = await about(A);
      return list.length === 4 ? list[3] : null;
    });
    expect(last).toMatchObject({
      type: 'alert_resolved',
      data: { alert: { resolution: 'manual', resolved_by: 'jane.doe@example.com' } },
    });
    expect(last.data.alert?.duration_seconds).toEqual(expect.any(Number));
    const fingerprints = new Set((await about(A)).map((e) => e.fingerprint));
    expect(fingerprints.size).toBe(1);
  });

  it('fills the gap of an alert that opened and resolved between two polls', async () => {
    const B = 'b0000000000g';
    fake.open(B, 2);
    fake.resolve(B);
    const list = await waitFor(async () => {
      const l = await about(B);
      return l.length === 2 ? l : null;
    });
    expect(list.map((e) => [e.type, e.data.alert?.resolution])).toEqual([
      ['alert_firing', null],
      ['alert_resolved', 'auto'],
    ]);
  });

  it('logs in again when the session expires', async () => {
    const logins = fake.logins;
    fake.expireSessions();
    await waitFor(() => fake.logins > logins, { what: 'a new login' });
    await morePolls(2);
  });

  it('counts each kind of failure, retries, recovers, and never disturbs webhook ingest', async () => {
    // The other two pollers fail from the start: unknown project and nothing listening.
    await waitFor(async () => (await polls('error_not_found', 'nope0000')) >= 2);
    await waitFor(async () => (await polls('error_network', 'deadbeef')) >= 2);

    const cases = [
      ['error500', 'error_http', /HTTP 500: failed to query alerts/],
      ['html', 'error_unsupported', /HTML page .*Coroot 1\.18 or newer/],
      ['bad_json', 'error_decode', /not JSON/],
      ['reset', 'error_network', /./],
    ] as const;
    for (const [mode, result, message] of cases) {
      fake.mode = mode;
      await waitFor(async () => (await polls(result)) >= 1, { what: `a ${result} poll` });
      expect(
        d.logs.some(
          (l) =>
            l.msg === 'coroot api poll failed' &&
            l.project === PROJECT &&
            l.result === result &&
            message.test(String(l.err)),
        ),
        `${result} logged`,
      ).toBe(true);
      const marker = `webhook during ${mode}`;
      const res = await post(`${d.baseUrl}/api/v1/coroot`, {
        ...(loadFixture('coroot/alert-firing-warning.json') as object),
        summary: marker,
      });
      expect(res.status).toBe(202);
      await waitFor(async () => (await events()).some((e) => e.data.alert?.summary === marker));
    }
    fake.mode = 'ok';
    await morePolls(2);
    expect(d.logs.some((l) => l.msg === 'coroot api poll succeeded again' && l.project === PROJECT)).toBe(
      true,
    );

    const text = d.rawStderr() + (await scrape(d.baseUrl));
    expect(text).not.toContain(PASSWORD);
    for (const session of fake.issued) expect(text).not.toContain(session);
  });

  it('on reload restarts only the poller whose config changed', async () => {
    const events0 = (await events()).filter((e) => e.source === 'coroot_api').length;
    await writeFile(d.configPath, yaml('150ms'));
    const res = await fetch(`${d.baseUrl}/-/reload`, { method: 'POST' });
    expect(res.status).toBe(200);
    const line = await waitFor(() => d.logs.find((l) => l.msg === 'coroot api pollers reconciled'));
    expect(line).toMatchObject({ stopped: 1, started: [`${fake.url} nope0000`], kept: 2 });
    await morePolls(2);
    const started = d.logs.filter((l) => l.msg === 'coroot api poller started');
    expect(started.filter((l) => l.project === PROJECT)).toHaveLength(1);
    expect(started.filter((l) => l.project === 'nope0000')).toHaveLength(2);
    expect((await events()).filter((e) => e.source === 'coroot_api')).toHaveLength(events0);
  });

  it('shuts down at once even with a poll hanging', async () => {
    fake.mode = 'hang';
    const hanging = fake.requests.length;
    await waitFor(() => fake.requests.length > hanging && fake.connections > 0);
    const started = Date.now();
    expect(await d.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(d.logs.some((l) => l.msg === 'coroot api poller stopped' && l.project === PROJECT)).toBe(true);
  });
});
