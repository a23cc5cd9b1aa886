/*
 * The poller in-process against the fake Coroot on loopback: what only shows at this
 * level (queue-full retries, re-login, stop() releasing everything) with exact control.
 * The daemon-level scenarios live in test/integration/coroot-api.test.ts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutputFilter } from '../../../../src/config/common.js';
import { COROOT_API_DEFAULTS, type CorootApiConfig } from '../../../../src/config/coroot-api.js';
import { EventFactory } from '../../../../src/events/factory.js';
import { CorootApiPoller } from '../../../../src/ingest/coroot-api/poller.js';
import { Logger } from '../../../../src/log.js';
import { Metrics } from '../../../../src/metrics/registry.js';
import { DraftIntake } from '../../../../src/recorder/intake.js';
import { Recorder } from '../../../../src/recorder/recorder.js';
import { CollectingOutput } from '../../../helpers/collecting-output.js';
import { FakeCoroot } from '../../../helpers/fake-coroot.js';
import { registrySum } from '../../../helpers/metrics.js';
import { waitFor } from '../../../helpers/wait.js';

const ALL: OutputFilter = { eventTypes: null, sources: null, minSeverity: null };
const POLLS = 'coroot_event_recorder_coroot_api_polls_total';

interface Rig {
  fake: FakeCoroot;
  poller: CorootApiPoller;
  metrics: Metrics;
  recorder: Recorder;
  out: CollectingOutput;
  logs: string[];
  config: CorootApiConfig;
}

describe('CorootApiPoller', () => {
  let dir: string;
  let rigs: Rig[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cer-poller-'));
    rigs = [];
  });
  afterEach(async () => {
    for (const r of rigs) {
      await r.poller.stop();
      await r.fake.close();
    }
    await rm(dir, { recursive: true, force: true });
  });

  async function rig(
    opts: { queueSize?: number; login?: boolean; over?: Partial<CorootApiConfig> } = {},
  ): Promise<Rig> {
    const login = opts.login ?? true;
    const fake = await FakeCoroot.start({
      project: 'x0xwl4jz',
      ...(login ? { email: 'bot@example.com', password: 'pa55-w0rd-x' } : {}),
    });
    const metrics = new Metrics('test', { defaultMetrics: false });
    const logs: string[] = [];
    const logger = new Logger('debug', (l) => logs.push(l));
    const recorder = new Recorder(opts.queueSize ?? 100, metrics, logger);
    const out = new CollectingOutput('collect', { validate: true });
    recorder.swapOutputs([{ output: out, filter: ALL }]);
    const config: CorootApiConfig = {
      ...COROOT_API_DEFAULTS,
      url: fake.url,
      project: 'x0xwl4jz',
      email: login ? 'bot@example.com' : null,
      password: login ? 'pa55-w0rd-x' : null,
      intervalMs: 100,
      maxBackoffMs: 400,
      stateFile: join(dir, `state-${rigs.length}.json`),
      ...opts.over,
    };
    const poller = new CorootApiPoller(config, {
      sink: new DraftIntake(recorder, new EventFactory('unit')),
      metrics,
      logger,
    });
    const r = { fake, poller, metrics, recorder, out, logs, config };
    rigs.push(r);
    return r;
  }

  const polls = (r: Rig, result: string): Promise<number> =>
    registrySum(r.metrics.registry, POLLS, { project: 'x0xwl4jz', result });

  it('on a full queue defers the change and records it on a later poll: none lost, none twice, no drop counted', async () => {
    const r = await rig({ queueSize: 1 });
    for (const id of ['a00000000001', 'a00000000002', 'a00000000003']) r.fake.open(id);
    r.poller.start();
    await waitFor(() => r.out.events.length >= 3, { what: 'three firing events' });
    await waitFor(async () => (await polls(r, 'ok')) >= 1, { what: 'a clean poll' });
    expect(r.out.events.map((e) => [e.type, (e.data.alert as { id: string }).id]).sort()).toEqual([
      ['alert_firing', 'a00000000001'],
      ['alert_firing', 'a00000000002'],
      ['alert_firing', 'a00000000003'],
    ]);
    // One event fits in the queue per turn of the loop, so the first poll had to defer.
    expect(await polls(r, 'queue_full')).toBeGreaterThanOrEqual(1);
    expect(await registrySum(r.metrics.registry, 'coroot_event_recorder_events_dropped_total')).toBe(0);
    const saved = JSON.parse(await readFile(r.config.stateFile, 'utf8')) as {
      alerts: Record<string, string>;
    };
    expect(saved.alerts).toEqual({ a00000000001: 'open', a00000000002: 'open', a00000000003: 'open' });
  });

  it('an un-suppressed alert is no reopen, across polls and a restart; its later resolve is recorded', async () => {
    const r = await rig({ login: false });
    const id = 'u00000000001';
    r.fake.open(id);
    r.poller.start();
    const okPolls = async (n: number): Promise<void> => {
      const target = (await polls(r, 'ok')) + n;
      await waitFor(async () => (await polls(r, 'ok')) >= target, { what: `${n} more polls` });
    };
    const seen = (): string[] =>
      r.out.events.map((e) => `${e.type}:${(e.data.alert as { resolution: string | null }).resolution}`);
    await waitFor(() => r.out.events.length === 1, { what: 'the firing event' });
    r.fake.suppress(id, 'Jane Doe');
    await waitFor(() => r.out.events.length === 2, { what: 'the suppression' });
    r.fake.clearSuppression(id);
    await okPolls(3);
    expect(seen()).toEqual(['alert_firing:null', 'alert_resolved:suppressed']);
    // A restart reads the remembered updated_at from the state file: still no reopen.
    await r.poller.stop();
    const again = new CorootApiPoller(r.config, {
      sink: new DraftIntake(r.recorder, new EventFactory('unit')),
      metrics: r.metrics,
      logger: new Logger('error', () => {}),
    });
    r.poller = again;
    again.start();
    await okPolls(3);
    expect(seen()).toEqual(['alert_firing:null', 'alert_resolved:suppressed']);
    r.fake.resolve(id);
    await waitFor(() => r.out.events.length === 3, { what: 'the resolve' });
    expect(seen()).toEqual(['alert_firing:null', 'alert_resolved:suppressed', 'alert_resolved:auto']);
  });

  it('logs in with the cookie, logs in again after a 401, and never logs a secret', async () => {
    const r = await rig();
    r.fake.open('k3v9q2m8x1za');
    r.poller.start();
    await waitFor(() => r.out.events.length === 1);
    expect(r.fake.logins).toBe(1);
    const first = r.fake.alertRequests()[0];
    expect(first?.cookie).toBe(`coroot_session=${r.fake.issued[0]}`);
    expect(first?.query.get('include_resolved')).toBe('true');
    expect(first?.query.get('limit')).toBe('1000');

    r.fake.expireSessions();
    await waitFor(() => r.fake.logins === 2, { what: 'a second login' });
    const okBefore = await polls(r, 'ok');
    await waitFor(async () => (await polls(r, 'ok')) > okBefore + 1, { what: 'polls to go on' });
    expect(await polls(r, 'error_auth')).toBe(0);
    const text = r.logs.join('');
    expect(text).not.toContain('pa55-w0rd-x');
    for (const session of r.fake.issued) expect(text).not.toContain(session);
  });

  it('counts a refused login as error_auth and backs off', async () => {
    const r = await rig({ over: { password: 'wrong' } });
    r.poller.start();
    await waitFor(async () => (await polls(r, 'error_auth')) >= 2, { what: 'two failed polls' });
    const lines = r.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'coroot api poll failed');
    expect(lines[0]).toMatchObject({
      level: 'error',
      result: 'error_auth',
      err: expect.stringMatching(/login refused: HTTP 404/),
    });
    expect(lines.map((l) => l.consecutive_failures).slice(0, 2)).toEqual([1, 2]);
    expect(r.logs.join('')).not.toContain('wrong');
    expect(r.out.events).toEqual([]);
  });

  it('pages through a listing longer than page_size', async () => {
    const r = await rig({ login: false, over: { pageSize: 2 } });
    for (let i = 0; i < 5; i++) r.fake.open(`p0000000000${i}`, 4, { opened_at: 1_000 + i });
    r.poller.start();
    await waitFor(() => r.out.events.length === 5, { what: 'five events' });
    const offsets = r.fake
      .alertRequests()
      .slice(0, 3)
      .map((q) => q.query.get('offset'));
    expect(offsets).toEqual(['0', '2', '4']);
    expect(r.fake.logins).toBe(0);
  });

  it('stop() aborts a hanging request at once and leaves no connection open', async () => {
    const r = await rig({ login: false, over: { timeoutMs: 60_000 } });
    r.fake.mode = 'hang';
    r.poller.start();
    await waitFor(() => r.fake.alertRequests().length === 1 && r.fake.connections === 1);
    const started = Date.now();
    await r.poller.stop();
    expect(Date.now() - started).toBeLessThan(2000);
    await waitFor(() => r.fake.connections === 0, { what: 'the socket to close' });
    // Stopped polls are not failures.
    expect(await polls(r, 'error_network')).toBe(0);
    r.poller.start();
    expect(r.fake.alertRequests()).toHaveLength(1);
  });

  it('times out a request that never answers, as error_network', async () => {
    const r = await rig({ login: false, over: { timeoutMs: 200 } });
    r.fake.mode = 'hang';
    r.poller.start();
    await waitFor(async () => (await polls(r, 'error_network')) >= 1, { what: 'a timeout' });
    expect(r.logs.join('')).toContain('no answer within 200ms');
  });
});
