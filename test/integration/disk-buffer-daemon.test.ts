/*
 * Disk buffers in the real daemon process (docs/configuration.md, "Buffers"; docs/operations.md,
 * "Disk buffers"): events accepted while the webhook receiver is down survive kill -9 and SIGTERM
 * of the daemon and reach the receiver after a restart; SIGTERM returns promptly with the receiver
 * down; a second daemon on the same data_dir refuses to start.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { post, type RunningDaemon, startDaemon, tempDir } from '../helpers/daemon.js';
import { firingAlertsBody } from '../helpers/events.js';
import { sampleSum, scrape } from '../helpers/metrics.js';
import { waitFor } from '../helpers/wait.js';
import { type ReceivedEvent, receivedUids, WebhookReceiver } from '../helpers/webhook-receiver.js';

const run = promisify(execFile);
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** A webhook receiver that is down (503) until a test sets `status = 200`. */
async function receiver(): Promise<WebhookReceiver> {
  const rx = await WebhookReceiver.start(503);
  cleanups.push(() => rx.stop());
  return rx;
}

const SECRET = 'pa55-disk-secret';

/**
 * The daemon's config: an audit file (the record of what was accepted) and a disk-buffered
 * webhook whose URL carries a password. Both `when_full: block`: with acknowledgements (the
 * default) a 202 then means written to both, so kill -9 right after cannot lose it.
 */
function config(port: number): string {
  return [
    'data_dir: ./data',
    'shutdown_timeout: 60s',
    'file_outputs:',
    '  - path: ./events.jsonl',
    'webhook_outputs:',
    `  - url: http://bot:${SECRET}@127.0.0.1:${port}/hook`,
    '    retry_backoff: 20ms',
    '    max_backoff: 200ms',
    '    timeout: 2s',
    '    batch: { max_events: 50, flush_interval: 50ms }',
    '    buffer: { type: disk, max_size: 64MiB, when_full: block, flush_interval: 100ms }',
    '',
  ].join('\n');
}

async function daemon(yaml: string, dir: string): Promise<RunningDaemon> {
  const d = await startDaemon(yaml, { dir, logLevel: 'info' });
  cleanups.push(() => d.stop('SIGKILL'));
  return d;
}

/** An Alertmanager webhook of `n` firing alerts with uid labels `<tag>-<from>` … */
function amBody(tag: string, from: number, n: number): string {
  return firingAlertsBody({
    alertname: 'DiskBuffer',
    uidPrefix: tag,
    from,
    n,
    fingerprintBase: 0x2000000000000,
  });
}

/** Posts 2,000 alerts in 20 requests; every one must be accepted (202). */
async function accept2000(d: RunningDaemon, tag: string): Promise<void> {
  for (let from = 0; from < 2000; from += 100) {
    const res = await post(`${d.baseUrl}/api/v1/alertmanager`, amBody(tag, from, 100));
    expect(res.status, res.text).toBe(202);
  }
}

/** The ids of the accepted `tag` events, as the audit file recorded them. */
async function acceptedIds(dir: string, tag: string): Promise<string[]> {
  const text = await readFile(join(dir, 'events.jsonl'), 'utf8');
  const ids: string[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as ReceivedEvent;
    if (e.id && e.data?.alert?.labels?.uid?.startsWith(`${tag}-`)) ids.push(e.id);
  }
  return ids;
}

async function webhookBuffered(d: RunningDaemon, port: number): Promise<number> {
  return sampleSum(await scrape(d.baseUrl), 'coroot_event_recorder_output_queue_length', {
    output: `webhook:http://127.0.0.1:${port}/hook`,
  });
}

async function outageThenRestart(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  const rx = await receiver();
  const { port } = rx;
  const dir = await tempDir('disk-daemon-');
  const yaml = config(port);
  const first = await daemon(yaml, dir);
  const tag = signal === 'SIGKILL' ? 'kill' : 'term';
  await accept2000(first, tag);
  const ids = await acceptedIds(dir, tag);
  expect(ids).toHaveLength(2000);
  // The receiver is down: everything accepted waits in the disk buffer.
  await waitFor(async () => (await webhookBuffered(first, port)) >= 2000, {
    what: 'the webhook buffer to hold 2000',
  });
  expect(rx.ids.size).toBe(0);

  const t0 = performance.now();
  const code = await first.stop(signal);
  const stopMs = performance.now() - t0;
  if (signal === 'SIGTERM') {
    expect(code).toBe(0);
    // A disk-buffered output leaves its backlog on disk: SIGTERM does not wait out the 60 s
    // shutdown_timeout for a receiver that is down.
    expect(stopMs).toBeLessThan(20_000);
  }

  rx.status = 200;
  await daemon(yaml, dir);
  await waitFor(() => ids.every((id) => rx.ids.has(id)), {
    timeoutMs: 60_000,
    what: 'the receiver to get every accepted event',
  });
  expect(ids.filter((id) => !rx.ids.has(id))).toEqual([]);
  const uids = receivedUids(rx);
  for (let i = 0; i < 2000; i++) expect(uids.has(`${tag}-${i}`)).toBe(true);
}

describe('disk-buffered webhook in the daemon process', () => {
  it('delivers every accepted event after kill -9 with the receiver down and a restart', async () => {
    await outageThenRestart('SIGKILL');
  }, 120_000);

  it('delivers every accepted event after SIGTERM (prompt, receiver down) and a restart', async () => {
    await outageThenRestart('SIGTERM');
  }, 120_000);

  it('refuses a second daemon on the same data_dir, naming the buffer directory and no secret', async () => {
    const rx = await receiver();
    const { port } = rx;
    const dir = await tempDir('disk-daemon-');
    const yaml = config(port);
    await daemon(yaml, dir);
    const otherDir = await tempDir('disk-daemon-2-');
    // The same data_dir, by absolute path, from a config file elsewhere.
    const second = yaml
      .replace('data_dir: ./data', `data_dir: ${join(dir, 'data')}`)
      .replace('./events.jsonl', join(otherDir, 'e.jsonl'));
    let error = '';
    try {
      const d = await startDaemon(second, { dir: otherDir, logLevel: 'info', waitReady: false });
      cleanups.push(() => d.stop('SIGKILL'));
    } catch (err) {
      error = (err as Error).message;
    }
    expect(error).toMatch(/daemon exited with [1-9]/);
    expect(error).toContain(join(dir, 'data', 'buffers'));
    expect(error).not.toContain(SECRET);
  }, 60_000);
});

/** The daemon's readiness: status and reason text. */
async function readiness(d: RunningDaemon): Promise<{ status: number; text: string }> {
  const res = await fetch(`${d.baseUrl}/-/ready`);
  return { status: res.status, text: await res.text() };
}

describe('disk buffers and the volume under data_dir', () => {
  it('warns at start when the max_size of the disk buffers exceeds the free space', async () => {
    const rx = await receiver();
    const { port } = rx;
    const dir = await tempDir('disk-daemon-');
    // 2 × 1000 GB is more than this machine's /tmp has free.
    const yaml = config(port)
      .replace('max_size: 64MiB', 'max_size: 1000GB')
      .replace(
        'webhook_outputs:',
        `webhook_outputs:\n  - url: http://127.0.0.1:${port}/other\n    buffer: { type: disk, max_size: 1000GB }`,
      );
    const d = await daemon(yaml, dir);
    const warning = d.logs.find((l) => l.msg === 'disk buffers may outgrow the free space of data_dir');
    expect(warning).toBeDefined();
    expect(warning?.max_size_total).toBe(2 * 1000 ** 4);
    expect(warning?.data_dir).toBe(join(dir, 'data'));
    expect(JSON.stringify(warning)).not.toContain(SECRET);

    // Within the free space: no warning.
    const small = await daemon(config(port), await tempDir('disk-daemon-'));
    expect(small.logs.some((l) => l.msg === 'disk buffers may outgrow the free space of data_dir')).toBe(
      false,
    );
  }, 60_000);

  const isRoot = process.getuid?.() === 0;
  if (!isRoot && process.env.REQUIRE_TMPFS !== '1') {
    console.log(
      'skipping the full-disk test: mounting a tmpfs needs root (REQUIRE_TMPFS=1 makes this a failure)',
    );
  }
  it.skipIf(!isRoot && process.env.REQUIRE_TMPFS !== '1')(
    'a full data_dir: drops counted buffer_full and logged, not ready, recovers after the volume grows',
    async () => {
      const dir = await tempDir('disk-daemon-');
      const dataDir = join(dir, 'data');
      await mkdir(dataDir);
      await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dataDir]);
      cleanups.push(() => run('umount', ['-l', dataDir]));
      const rx = await receiver();
      const { port } = rx;
      const output = `webhook:http://127.0.0.1:${port}/hook`;
      const yaml = config(port).replace('when_full: block', 'when_full: drop_newest');
      const d = await daemon(yaml, dir);
      const metric = async (name: string, labels: Record<string, string>): Promise<number> =>
        sampleSum(await scrape(d.baseUrl), `coroot_event_recorder_${name}`, labels);

      // The receiver is down: the buffer grows until the 1 MiB tmpfs is full.
      let from = 0;
      await waitFor(
        async () => {
          const res = await post(`${d.baseUrl}/api/v1/alertmanager`, amBody('full', from, 100));
          expect(res.status, res.text).toBe(202);
          from += 100;
          return (await metric('output_events_total', { output, result: 'dropped' })) > 0;
        },
        { timeoutMs: 60_000, what: 'drops at the full disk' },
      );
      expect(await metric('output_drops_total', { output, reason: 'buffer_full' })).toBeGreaterThan(0);
      await waitFor(() => d.logs.some((l) => l.msg === 'webhook queue full; dropping events'), {
        timeoutMs: 30_000,
        what: 'the drop log line',
      });
      expect(
        d.logs.some((l) => l.msg === 'disk buffer: write failed; refusing new events until a retry succeeds'),
      ).toBe(true);
      const down = await readiness(d);
      expect(down.status).toBe(503);
      expect(down.text).toContain('disk buffer cannot write');
      expect(down.text).not.toContain(SECRET);

      // The volume grows: writes resume by themselves, no restart.
      await run('mount', ['-o', 'remount,size=8m', dataDir]);
      await waitFor(async () => (await readiness(d)).status === 200, {
        timeoutMs: 30_000,
        what: 'ready again',
      });
      expect(d.logs.some((l) => l.msg === 'disk buffer: writes succeed again')).toBe(true);
      const dropsBefore = await metric('output_events_total', { output, result: 'dropped' });
      expect((await post(`${d.baseUrl}/api/v1/alertmanager`, amBody('after', 0, 100))).status).toBe(202);
      rx.status = 200;
      await waitFor(
        () => Array.from({ length: 100 }, (_, i) => `after-${i}`).every((u) => receivedUids(rx).has(u)),
        {
          timeoutMs: 60_000,
          what: 'the events accepted after the recovery to arrive',
        },
      );
      expect(await metric('output_events_total', { output, result: 'dropped' })).toBe(dropsBefore);
      expect(d.proc.exitCode).toBeNull();
    },
    120_000,
  );
});

describe('disk buffers across a reload', () => {
  it("a removed output's buffer folder is left in place with its events, and logged", async () => {
    const rx = await receiver();
    const { port } = rx;
    const dir = await tempDir('disk-daemon-');
    const second = [
      `  - url: http://127.0.0.1:${port}/second`,
      '    name: second',
      '    retry_backoff: 20ms',
      '    buffer: { type: disk, max_size: 8MiB, flush_interval: 50ms }',
    ].join('\n');
    const yaml = config(port);
    const d = await daemon(yaml.replace('webhook_outputs:', `webhook_outputs:\n${second}`), dir);
    // The receiver is down: both buffers hold these events.
    expect((await post(`${d.baseUrl}/api/v1/alertmanager`, amBody('reload', 0, 50))).status).toBe(202);
    const secondDir = join(dir, 'data', 'buffers', 'second');
    const queued = async (): Promise<number> =>
      sampleSum(await scrape(d.baseUrl), 'coroot_event_recorder_output_queue_length', { output: 'second' });
    await waitFor(async () => (await queued()) >= 50, { what: 'the second buffer to hold the events' });

    await writeFile(d.configPath, yaml);
    const res = await fetch(`${d.baseUrl}/-/reload`, { method: 'POST' });
    expect(res.status, await res.text()).toBe(200);
    const line = d.logs.find((l) => l.msg === 'output removed; its disk buffer folder is left in place');
    expect(line?.output).toBe('second');
    expect(line?.dir).toBe(secondDir);
    await waitFor(
      () => d.logs.some((l) => l.msg === 'disk buffer closed; its events stay on disk for the next start'),
      {
        what: 'the removed output to close its buffer',
      },
    );
    const files = await readdir(secondDir);
    expect(files.some((f) => f !== 'lock' && f !== 'ledger')).toBe(true);

    // Added back under the same name: the events left there are delivered.
    rx.status = 200;
    await writeFile(d.configPath, yaml.replace('webhook_outputs:', `webhook_outputs:\n${second}`));
    expect((await fetch(`${d.baseUrl}/-/reload`, { method: 'POST' })).status).toBe(200);
    await waitFor(
      () => Array.from({ length: 50 }, (_, i) => `reload-${i}`).every((u) => receivedUids(rx).has(u)),
      {
        timeoutMs: 30_000,
        what: 'the events to arrive',
      },
    );
    await waitFor(async () => (await queued()) === 0, { what: 'the second buffer to drain' });
  }, 90_000);
});
