/*
 * `coroot-event-recorder buffers` as a user runs it (the compiled CLI) on real disk buffers
 * written by the recorder's DiskBuffer: a healthy pair (one still open and locked, as under a
 * running recorder), one with flipped bytes, one with a torn tail.
 */
import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferDir } from '../../src/outputs/delivery/disk/dir-name.js';
import { DiskBuffer } from '../../src/outputs/delivery/disk/disk-buffer.js';
import { tempDir } from '../helpers/daemon.js';
import { runCli } from '../helpers/replay.js';
import { line, meta, quietLog } from '../unit/outputs/delivery/disk/helpers.js';

async function setup(): Promise<{ dir: string; config: string; dataDir: string }> {
  const dir = await tempDir('cer-buffers-');
  const config = join(dir, 'recorder.yaml');
  await writeFile(
    config,
    'webhook_outputs:\n  - name: hook\n    url: http://127.0.0.1:9/x\nkafka_outputs:\n  - name: bus\n    brokers: [127.0.0.1:9]\n    topic: t\n',
  );
  return { dir, config, dataDir: join(dir, 'data') };
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
    const run = await runCli(['buffers', '--config', config, '--data-dir', dataDir, '--verify']);
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
    const run = await runCli(['buffers', '--config', config, '--data-dir', dataDir, '--verify']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /^DAMAGED: hook\/\S+ at offset \d+: bad (checksum|length|line length|metadata); the records after it in this segment are lost$/m,
    );
    expect(run.stdout).toContain('verify: 1 of 1 buffer(s) damaged');
    // Without --verify it only lists (and counts what is still readable).
    const list = await runCli(['buffers', '--config', config, '--data-dir', dataDir]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^hook\s+\d+\s/m);
  });

  it('--verify reports a torn tail of a stopped buffer', async () => {
    const { config, dataDir } = await setup();
    await (await fill(dataDir, 'bus', 10)).close();
    const last = (await segmentsOf(dataDir, 'bus')).at(-1) as string;
    const size = (await readFile(last)).length;
    await truncate(last, size - 7);
    const run = await runCli(['buffers', '--config', config, '--data-dir', dataDir, '--verify']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^bus\s+9\s/m);
    expect(run.stdout).toMatch(/^DAMAGED: bus\/\S+ at offset \d+: torn record at end of file; /m);
  });

  it('says where it looked when there is nothing, and needs a data_dir', async () => {
    const { config, dataDir } = await setup();
    const none = await runCli(['buffers', '--config', config, '--data-dir', dataDir]);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe(`no disk buffers under ${join(dataDir, 'buffers')}\n`);
    const noDir = await runCli(['buffers', '--config', config]);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toMatch(/sets no data_dir, where disk buffers live; set it or pass --data-dir/);
  });
});
