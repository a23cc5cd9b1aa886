/*
 * `coroot-event-recorder buffers` as a user runs it (the compiled CLI), finding the buffers
 * through the config's `data_dir`: the disk buffer of a webhook output that the daemon itself
 * filled while its receiver was down (listed while the daemon runs and after it stopped), and
 * buffers written by the recorder's DiskBuffer: a healthy pair (one still open and locked, as
 * under a running recorder), one with flipped bytes, one with a torn tail.
 */
import { cp, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bufferDir } from '../../src/outputs/delivery/disk/dir-name.js';
import { DiskBuffer } from '../../src/outputs/delivery/disk/disk-buffer.js';
import { post, type RunningDaemon, startDaemon, tempDir } from '../helpers/daemon.js';
import { firingAlertsBody } from '../helpers/events.js';
import { sampleSum, scrape } from '../helpers/metrics.js';
import { runCli } from '../helpers/replay.js';
import { waitFor } from '../helpers/wait.js';
import { line, meta, quietLog } from '../unit/outputs/delivery/disk/helpers.js';

const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
});

/**
 * A config whose two outputs are disk-buffered under `data_dir: ./data` (relative to the
 * config file), the way the recorder would keep them.
 */
async function setup(): Promise<{ dir: string; config: string; dataDir: string }> {
  const dir = await tempDir('cer-buffers-');
  const config = join(dir, 'recorder.yaml');
  await writeFile(
    config,
    [
      'data_dir: ./data',
      'webhook_outputs:',
      '  - name: hook',
      '    url: http://127.0.0.1:9/x',
      '    buffer: { type: disk, max_size: 1MiB }',
      'kafka_outputs:',
      '  - name: bus',
      '    brokers: [127.0.0.1:9]',
      '    topic: t',
      '    buffer: { type: disk, max_size: 1MiB }',
      '',
    ].join('\n'),
  );
  return { dir, config, dataDir: join(dir, 'data') };
}

/** A port on 127.0.0.1 where nothing listens: a webhook receiver that is down. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** An Alertmanager webhook of `n` firing alerts with uid labels `buf-<from>` … */
function amBody(from: number, n: number): string {
  return firingAlertsBody({
    alertname: 'BufferedWhileDown',
    uidPrefix: 'buf',
    from,
    n,
    fingerprintBase: 0x3000000000000,
  });
}

/** A disk buffer of `output` holding `n` records (event i at second i), the first `acked` acknowledged. */
async function fill(dataDir: string, output: string, n: number, acked = 0): Promise<DiskBuffer> {
  const buf = new DiskBuffer({
    dir: bufferDir(dataDir, output),
    maxBytes: 1 << 20,
    sync: 'full',
    flushIntervalMs: 20,
    log: quietLog,
    segmentBytes: 4096,
  });
  for (let i = 0; i < n; i++) buf.push(line(i, 40), meta(i));
  await buf.committed();
  if (acked > 0) {
    const got = await buf.read(acked, 1 << 20);
    buf.ack(got);
    await buf.committed();
  }
  return buf;
}

async function segmentsOf(dataDir: string, output: string): Promise<string[]> {
  const dir = bufferDir(dataDir, output);
  return (await readdir(dir))
    .filter((f) => /^\d+/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

describe('buffers', () => {
  it('lists each disk buffer read-only, also one in use; --verify passes a healthy buffer', async () => {
    const { config, dataDir } = await setup();
    const hook = await fill(dataDir, 'hook', 30);
    await hook.close();
    const bus = await fill(dataDir, 'bus', 12);
    const run = await runCli(['buffers', '--config', config, '--verify']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^OUTPUT\s+PENDING\s+BYTES\s+OLDEST PENDING\s+NEWEST PENDING\s+STATE$/);
    expect(lines[1]).toMatch(
      new RegExp(
        `^bus\\s+12\\s+[\\d.]+ KiB\\s+${meta(0).timestamp}\\s+${meta(11).timestamp}\\s+in use by pid ${process.pid}$`,
      ),
    );
    expect(lines[2]).toMatch(
      new RegExp(
        `^hook\\s+30\\s+[\\d.]+ KiB\\s+${meta(0).timestamp}\\s+${meta(29).timestamp}\\s+not running$`,
      ),
    );
    expect(lines[3]).toBe('verify: 42 records in 2 buffer(s), every checksum good');
    // It took no lock: the open buffer still takes and keeps records.
    expect(bus.push(line(99), meta(99))).toBe(true);
    await bus.committed();
    await bus.close();
  });

  it('--verify reports flipped bytes with file and offset, and exits 1', async () => {
    const { config, dataDir } = await setup();
    await (await fill(dataDir, 'hook', 30)).close();
    const [first] = await segmentsOf(dataDir, 'hook');
    const bytes = await readFile(first as string);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] as number) ^ 0xff;
    await writeFile(first as string, bytes);
    const run = await runCli(['buffers', '--config', config, '--verify']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /^DAMAGED: hook\/\S+ at offset \d+: bad (checksum|length|line length|metadata); the records after it in this segment are lost$/m,
    );
    expect(run.stdout).toContain('verify: 1 of 1 buffer(s) damaged');
    // Without --verify it only lists (and counts what is still readable).
    const list = await runCli(['buffers', '--config', config]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^hook\s+\d+\s/m);
  });

  it('--verify reports a torn tail of a stopped buffer', async () => {
    const { config, dataDir } = await setup();
    await (await fill(dataDir, 'bus', 10)).close();
    const last = (await segmentsOf(dataDir, 'bus')).at(-1) as string;
    const size = (await readFile(last)).length;
    await truncate(last, size - 7);
    const run = await runCli(['buffers', '--config', config, '--verify']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^bus\s+9\s/m);
    expect(run.stdout).toMatch(/^DAMAGED: bus\/\S+ at offset \d+: torn record at end of file; /m);
  });

  it('says where it looked when there is nothing, and needs a data_dir', async () => {
    const { dir, config, dataDir } = await setup();
    const none = await runCli(['buffers', '--config', config]);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe(`no disk buffers under ${join(dataDir, 'buffers')}\n`);
    const bare = join(dir, 'no-data-dir.yaml');
    await writeFile(bare, 'webhook_outputs:\n  - name: hook\n    url: http://127.0.0.1:9/x\n');
    const noDir = await runCli(['buffers', '--config', bare]);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toMatch(/sets no data_dir, where disk buffers live; set it or pass --data-dir/);
  });

  it('--data-dir reads a copy of a data_dir taken elsewhere, with the config that wrote it', async () => {
    const { dir, config, dataDir } = await setup();
    await (await fill(dataDir, 'hook', 5)).close();
    const copy = join(dir, 'snapshot');
    await cp(dataDir, copy, { recursive: true });
    await (await fill(dataDir, 'bus', 3)).close();
    const run = await runCli(['buffers', '--config', config, '--data-dir', copy, '--verify']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^hook\s+5\s/);
    expect(lines[2]).toBe('verify: 5 records in 1 buffer(s), every checksum good');
  });
});

describe('buffers on what the daemon buffered', () => {
  it('lists and verifies the disk buffer the daemon filled while its receiver was down', async () => {
    const dir = await tempDir('cer-buffers-daemon-');
    const port = await closedPort();
    const yaml = [
      'data_dir: ./data',
      'shutdown_timeout: 30s',
      'file_outputs:',
      '  - path: ./events.jsonl',
      'webhook_outputs:',
      '  - name: hook',
      `    url: http://127.0.0.1:${port}/hook`,
      '    retry_backoff: 50ms',
      '    max_backoff: 500ms',
      '    timeout: 2s',
      '    buffer: { type: disk, max_size: 16MiB, when_full: block, flush_interval: 100ms }',
      '',
    ].join('\n');
    const daemon: RunningDaemon = await startDaemon(yaml, { dir, logLevel: 'info' });
    stops.push(() => daemon.stop('SIGKILL'));
    const total = 300;
    for (let from = 0; from < total; from += 100) {
      const res = await post(`${daemon.baseUrl}/api/v1/alertmanager`, amBody(from, 100));
      expect(res.status, res.text).toBe(202);
    }
    await waitFor(
      async () =>
        sampleSum(await scrape(daemon.baseUrl), 'coroot_event_recorder_output_queue_length', {
          output: 'hook',
        }) >= total,
      { what: `the webhook's disk buffer to hold ${total}` },
    );
    // Every event the daemon recorded (the posted alerts and its own recorder_started; after
    // SIGTERM also recorder_stopped) went to the audit file and to the webhook's buffer: the
    // buffer must hold exactly those, oldest to newest.
    const audit = async (): Promise<string[]> =>
      (await readFile(join(dir, 'events.jsonl'), 'utf8'))
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as { '@timestamp': string })['@timestamp']);
    const row = (stamps: string[], state: string): RegExp =>
      new RegExp(
        `^hook\\s+${stamps.length}\\s+[\\d.]+ KiB\\s+${stamps[0]}\\s+${stamps.at(-1)}\\s+${state}$`,
        'm',
      );
    const config = join(dir, 'recorder.yaml');

    // While the daemon runs: read-only, no lock taken.
    const live = await runCli(['buffers', '--config', config], { cwd: '/' });
    expect(live.stderr).toBe('');
    expect(live.code).toBe(0);
    const running = await audit();
    expect(running.length).toBeGreaterThan(total);
    expect(live.stdout).toMatch(row(running, `in use by pid ${daemon.pid}`));

    expect(await daemon.stop('SIGTERM')).toBe(0);
    const stopped = await audit();
    const listed = await runCli(['buffers', '--config', config], { cwd: '/' });
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    expect(listed.stdout.trim().split('\n')).toHaveLength(2);
    expect(listed.stdout).toMatch(row(stopped, 'not running'));
    const verified = await runCli(['buffers', '--config', config, '--verify'], { cwd: '/' });
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(row(stopped, 'not running'));
    expect(verified.stdout).toMatch(
      new RegExp(`^verify: ${stopped.length} records in 1 buffer\\(s\\), every checksum good$`, 'm'),
    );
  }, 60_000);
});
