/*
 * FileOutput against real files in a fresh temp dir: appending, fsync policies,
 * deletion and rename under the output, unopenable paths, write errors, close.
 * Every test ends by checking the accounting invariant of docs/metrics.md exactly.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  mkdtemp,
  open,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RecorderEvent } from '../../src/events/event.js';
import { serializeEvent } from '../../src/events/serialize.js';
import { Logger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/registry.js';
import { FILE_OUTPUT_DEFAULTS, type FileOutputConfig } from '../../src/outputs/file/config.js';
import { FileOutput, type FileOutputOptions } from '../../src/outputs/file/output.js';
import { fileOutputConfig } from '../helpers/config.js';
import type { LogLine } from '../helpers/daemon.js';
import { testAlertEvent } from '../helpers/events.js';
import { registrySum } from '../helpers/metrics.js';
import { idsIn } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';

const OUTPUT = 'file-test';
const ROOT = resolve(import.meta.dirname, '../..');

function alertEvent(seq: number): RecorderEvent {
  return testAlertEvent(seq, { alert: { rule: 'file-output-test' } });
}

function fileConfig(path: string, over: Partial<FileOutputConfig> = {}): FileOutputConfig {
  return fileOutputConfig(OUTPUT, path, over);
}

/** One FileOutput with its own registry, a log capture and a record of what was sent. */
class Harness {
  readonly metrics = new Metrics('test', { defaultMetrics: false });
  readonly logs: LogLine[] = [];
  readonly logger = new Logger('debug', (line) => {
    this.logs.push(JSON.parse(line) as LogLine);
  });
  readonly output: FileOutput;
  /** Events `send` accepted, in order, and their bytes. */
  readonly accepted: RecorderEvent[] = [];
  readonly acceptedLines: Buffer[] = [];
  sendCalls = 0;
  private seq = 0;

  constructor(config: FileOutputConfig, opts?: FileOutputOptions) {
    this.output = new FileOutput(
      config,
      { metrics: this.metrics, logger: this.logger, version: 'test' },
      opts,
    );
  }

  send(n: number): number {
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const event = alertEvent(this.seq++);
      const line = serializeEvent(event);
      this.sendCalls += 1;
      if (this.output.send(line, event)) {
        this.accepted.push(event);
        this.acceptedLines.push(line);
        ok += 1;
      }
    }
    return ok;
  }

  result(result: 'written' | 'failed' | 'dropped'): Promise<number> {
    return registrySum(this.metrics.registry, 'coroot_event_recorder_output_events_total', {
      output: OUTPUT,
      result,
    });
  }

  drops(reason: string): Promise<number> {
    return registrySum(this.metrics.registry, 'coroot_event_recorder_output_drops_total', {
      output: OUTPUT,
      reason,
    });
  }

  metric(name: string): Promise<number> {
    return registrySum(this.metrics.registry, `coroot_event_recorder_${name}`, { output: OUTPUT });
  }

  async waitWritten(n: number, timeoutMs = 10_000): Promise<void> {
    await waitFor(async () => (await this.result('written')) >= n, {
      what: `${n} events written`,
      timeoutMs,
    });
    expect(await this.result('written')).toBe(n);
  }

  logged(pattern: RegExp, level?: string): LogLine[] {
    return this.logs.filter((l) => pattern.test(l.msg) && (level === undefined || l.level === level));
  }

  /** The first log line matching, once there is one. */
  waitLogged(pattern: RegExp, level?: string): Promise<LogLine> {
    return waitFor(() => this.logged(pattern, level)[0], { what: `a log line matching ${pattern}` });
  }

  /** sent = written + failed + dropped + pending, and the queue gauge agrees with pending(). */
  async expectInvariant(): Promise<void> {
    const written = await this.result('written');
    const failed = await this.result('failed');
    const dropped = await this.result('dropped');
    const pending = this.output.pending();
    expect(written + failed + dropped + pending).toBe(this.sendCalls);
    expect(await this.metric('output_queue_length')).toBe(pending);
  }
}

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'cer-file-'));
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(config: (dir: string) => FileOutputConfig, opts?: FileOutputOptions) {
  const dir = await tempDir();
  const h = new Harness(config(dir), opts);
  cleanups.push(async () => {
    await h.output.close(1000);
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, h };
}

describe('FileOutput: appending', () => {
  it('creates missing parent folders and appends every line exactly, in order, in one write per batch', async () => {
    const { dir, h } = await setup((d) => fileConfig(join(d, 'a', 'b', 'events.jsonl')));
    const path = join(dir, 'a', 'b', 'events.jsonl');
    h.output.start();
    await waitFor(() => h.output.isUp(), { what: 'output up' });
    expect(await h.metric('output_up')).toBe(1);
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    // Everything sent in one tick is one batch: one writev, one observation.
    expect(h.send(500)).toBe(500);
    await h.waitWritten(500);
    expect(await h.metric('output_send_duration_seconds_count')).toBe(1);

    expect(h.send(3)).toBe(3);
    await h.waitWritten(503);
    expect(await h.metric('output_send_duration_seconds_count')).toBe(2);

    const bytes = await readFile(path);
    expect(bytes.equals(Buffer.concat(h.acceptedLines))).toBe(true);
    expect(await h.metric('output_bytes_total')).toBe(bytes.length);
    expect(await idsIn(path)).toEqual(h.accepted.map((e) => e.id));
    await h.expectInvariant();
  });

  it('appends after what the file already holds', async () => {
    const { dir, h } = await setup((d) => fileConfig(join(d, 'events.jsonl')));
    const path = join(dir, 'events.jsonl');
    const existing = serializeEvent(alertEvent(-1));
    await writeFile(path, existing);
    h.output.start();
    h.send(20);
    await h.waitWritten(20);
    const bytes = await readFile(path);
    expect(bytes.equals(Buffer.concat([existing, ...h.acceptedLines]))).toBe(true);
    const ids = await idsIn(path);
    expect(ids.slice(1)).toEqual(h.accepted.map((e) => e.id));
    await h.expectInvariant();
  });
});

describe('FileOutput: fsync policies', () => {
  /** fdatasync as the output calls it: FileHandle.prototype.datasync. */
  async function spyDatasync(dir: string) {
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    return vi.spyOn(proto, 'datasync');
  }

  it('always: fdatasync before a batch counts as written', async () => {
    const { dir, h } = await setup((d) => fileConfig(join(d, 'events.jsonl'), { fsync: 'always' }));
    const spy = await spyDatasync(dir);
    h.output.start();
    h.send(50);
    await h.waitWritten(50);
    expect(spy).toHaveBeenCalled();
    const batches = await h.metric('output_send_duration_seconds_count');
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(batches);
    expect(await idsIn(join(dir, 'events.jsonl'))).toEqual(h.accepted.map((e) => e.id));
    expect(h.logged(/./, 'error')).toEqual([]);
    await h.expectInvariant();
  });

  it('interval: fdatasync follows writes within the interval', async () => {
    const { dir, h } = await setup((d) =>
      fileConfig(join(d, 'events.jsonl'), { fsync: 'interval', fsyncIntervalMs: 50 }),
    );
    const spy = await spyDatasync(dir);
    h.output.start();
    h.send(50);
    await h.waitWritten(50);
    await waitFor(() => spy.mock.calls.length > 0, { what: 'an interval fdatasync' });
    expect(await idsIn(join(dir, 'events.jsonl'))).toEqual(h.accepted.map((e) => e.id));
    expect(h.logged(/./, 'error')).toEqual([]);
    await h.expectInvariant();
  });

  it('interval: writes go on while the interval fdatasync runs, and close waits for it', async () => {
    const { dir, h } = await setup((d) =>
      fileConfig(join(d, 'events.jsonl'), { fsync: 'interval', fsyncIntervalMs: 20 }),
    );
    const path = join(dir, 'events.jsonl');
    // The first interval fdatasync is held until released: a slow journal commit.
    let release: (() => void) | null = null;
    let held = 0;
    const spy = await spyDatasync(dir);
    const real = spy.getMockImplementation();
    spy.mockImplementation(function (this: unknown) {
      const sync = () => (real ? real.call(this) : Promise.resolve());
      if (held++ > 0) return sync();
      return new Promise<void>((r) => {
        release = r;
      }).then(sync);
    });
    h.output.start();
    h.send(10);
    await h.waitWritten(10);
    await waitFor(() => release !== null, { what: 'the interval fdatasync to start' });
    // While it is held, later lines are written (before, they waited behind it).
    h.send(25);
    await h.waitWritten(35);
    expect(await idsIn(path)).toEqual(h.accepted.map((e) => e.id));
    const closed = h.output.close(5000);
    let done = false;
    void closed.then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    // The descriptor is not closed under a running fdatasync.
    expect(done).toBe(false);
    (release as unknown as () => void)();
    await closed;
    expect(h.logged(/./, 'error')).toEqual([]);
    await h.expectInvariant();
  });

  it('none: no fdatasync while running, one on close', async () => {
    const { dir, h } = await setup((d) =>
      fileConfig(join(d, 'events.jsonl'), { fsync: 'none', fsyncIntervalMs: 1 }),
    );
    const spy = await spyDatasync(dir);
    h.output.start();
    h.send(50);
    await h.waitWritten(50);
    h.send(50);
    await h.waitWritten(100);
    expect(spy).not.toHaveBeenCalled();
    await h.output.close(1000);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(await idsIn(join(dir, 'events.jsonl'))).toEqual(h.accepted.map((e) => e.id));
    expect(h.logged(/./, 'error')).toEqual([]);
    await h.expectInvariant();
  });
});

describe('FileOutput: the file changes under it', () => {
  it('recreates a deleted file after the grace period and writes later events to it', async () => {
    const { dir, h } = await setup((d) => fileConfig(join(d, 'events.jsonl')), {
      recreateGraceMs: 150,
      checkIntervalMs: 50,
    });
    const path = join(dir, 'events.jsonl');
    h.output.start();
    h.send(10);
    await h.waitWritten(10);
    const before = (await stat(path)).ino;

    await unlink(path);
    await waitFor(async () => (await h.metric('file_reopens_total')) === 1, { what: 'the file reopened' });
    expect((await stat(path)).ino).not.toBe(before);
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    h.send(10);
    await h.waitWritten(20);
    expect(await idsIn(path)).toEqual(h.accepted.slice(10).map((e) => e.id));
    await h.expectInvariant();
  });

  it('after a rename keeps writing to the rotated file and leaves creating the new one to the rotator', async () => {
    // A grace far longer than the test: any file at the path must be the rotator's.
    const { dir, h } = await setup((d) => fileConfig(join(d, 'events.jsonl')), {
      recreateGraceMs: 30_000,
      checkIntervalMs: 50,
    });
    const path = join(dir, 'events.jsonl');
    h.output.start();
    h.send(10);
    await h.waitWritten(10);

    await rename(path, `${path}.1`);
    await h.waitLogged(/moved or deleted/);
    h.send(10);
    await h.waitWritten(20);
    expect(existsSync(path)).toBe(false);

    // What logrotate's create does: O_CREAT|O_EXCL. It must not find a file there.
    const created = await open(path, 'wx', 0o640);
    await created.close();
    await waitFor(async () => (await h.metric('file_reopens_total')) === 1, { what: 'the new file opened' });
    h.send(10);
    await h.waitWritten(30);

    const ids = h.accepted.map((e) => e.id);
    expect(await idsIn(`${path}.1`)).toEqual(ids.slice(0, 20));
    expect(await idsIn(path)).toEqual(ids.slice(20));
    expect((await stat(path)).mode & 0o777).toBe(0o640);
    await h.expectInvariant();
  });

  it('reopen() switches to the file now at the path at once', async () => {
    const { dir, h } = await setup((d) => fileConfig(join(d, 'events.jsonl')), {
      recreateGraceMs: 30_000,
      checkIntervalMs: 60_000,
    });
    const path = join(dir, 'events.jsonl');
    h.output.start();
    h.send(5);
    await h.waitWritten(5);
    await rename(path, `${path}.1`);
    h.output.reopen();
    await waitFor(async () => (await h.metric('file_reopens_total')) >= 1, { what: 'reopened' });
    h.send(5);
    await h.waitWritten(10);
    const ids = h.accepted.map((e) => e.id);
    expect(await idsIn(`${path}.1`)).toEqual(ids.slice(0, 5));
    expect(await idsIn(path)).toEqual(ids.slice(5));
    await h.expectInvariant();
  });
});

describe('FileOutput: failures', () => {
  it('cannot create the parent folder: logs once, buffers up to buffer.max_events, recovers when the obstacle goes', async () => {
    const { dir, h } = await setup((d) =>
      fileConfig(join(d, 'blocker', 'sub', 'events.jsonl'), {
        buffer: { ...FILE_OUTPUT_DEFAULTS.buffer, maxEvents: 3, whenFull: 'drop_newest' },
      }),
    );
    const path = join(dir, 'blocker', 'sub', 'events.jsonl');
    // We run as root, so permissions would not stop mkdir; a regular file in the way does.
    await writeFile(join(dir, 'blocker'), 'not a folder');
    h.output.start();
    const error = await h.waitLogged(/cannot open/, 'error');
    expect(error.path).toBe(path);
    expect(['ENOTDIR', 'EEXIST']).toContain(error.code);
    expect(h.output.isUp()).toBe(false);
    expect(await h.metric('output_up')).toBe(0);

    expect(h.send(5)).toBe(3);
    expect(await h.drops('buffer_full')).toBe(2);
    expect(h.output.pending()).toBe(3);
    await h.expectInvariant();

    await rm(join(dir, 'blocker'));
    await h.waitWritten(3);
    expect(h.output.isUp()).toBe(true);
    expect(await h.metric('output_up')).toBe(1);
    expect(h.logged(/cannot open/, 'error')).toHaveLength(1);
    expect(h.logged(/recovered/, 'info')).toHaveLength(1);
    expect(await idsIn(path)).toEqual(h.accepted.map((e) => e.id));
    await h.expectInvariant();
  });

  it.skipIf(!existsSync('/dev/full'))(
    'a write error (ENOSPC) marks it down, keeps the batch, and writes it exactly once after recovery',
    async () => {
      const { dir, h } = await setup((d) =>
        fileConfig(join(d, 'events.jsonl'), {
          buffer: { ...FILE_OUTPUT_DEFAULTS.buffer, maxEvents: 10, whenFull: 'drop_newest' },
        }),
      );
      const path = join(dir, 'events.jsonl');
      // Every write to /dev/full fails with ENOSPC: a full disk on demand.
      await symlink('/dev/full', path);
      h.output.start();
      await waitFor(() => h.output.isUp(), { what: 'opened /dev/full' });
      expect(h.send(6)).toBe(6);
      const error = await h.waitLogged(/write failed/, 'error');
      expect(error.code).toBe('ENOSPC');
      expect(error.path).toBe(path);
      await waitFor(async () => (await h.metric('output_up')) === 0, { what: 'output_up 0' });
      expect(h.output.pending()).toBe(6);
      expect(h.send(6)).toBe(4);
      expect(await h.drops('buffer_full')).toBe(2);
      await h.expectInvariant();

      // The disk "frees up": the next reopen creates a regular file.
      await unlink(path);
      await h.waitWritten(10);
      expect(await h.metric('output_up')).toBe(1);
      expect(h.logged(/write failed/, 'error')).toHaveLength(1);
      expect(await idsIn(path)).toEqual(h.accepted.map((e) => e.id));
      expect(await h.result('failed')).toBe(0);
      await h.expectInvariant();
    },
  );
});

describe('FileOutput: close', () => {
  it('drains within the budget, releases the descriptor, and counts sends after close as closed', async () => {
    const { dir, h } = await setup((d) => fileConfig(join(d, 'events.jsonl'), { fsync: 'interval' }));
    const path = join(dir, 'events.jsonl');
    h.output.start();
    h.send(2000);
    await h.output.close(5000);
    expect(await h.result('written')).toBe(2000);
    expect(h.output.pending()).toBe(0);
    expect(await idsIn(path)).toEqual(h.accepted.map((e) => e.id));
    expect(await openDescriptorsTo(path)).toEqual([]);
    expect(await h.metric('output_up')).toBe(0);

    const event = alertEvent(9999);
    h.sendCalls += 1;
    expect(h.output.send(serializeEvent(event), event)).toBe(false);
    expect(await h.drops('closed')).toBe(1);
    await h.expectInvariant();
  });

  it('counts what it could not write within the budget as shutdown', async () => {
    const { dir, h } = await setup((d) => fileConfig(join(d, 'blocker', 'events.jsonl')));
    await writeFile(join(dir, 'blocker'), 'not a folder');
    h.output.start();
    await h.waitLogged(/cannot open/, 'error');
    h.send(7);
    const started = Date.now();
    await h.output.close(200);
    // Bounded by the budget (plus scheduling slack), not by the retry backoff.
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await h.drops('shutdown')).toBe(7);
    expect(await h.result('dropped')).toBe(7);
    expect(h.output.pending()).toBe(0);
    await h.expectInvariant();
  });

  it('leaves nothing that keeps the process alive', async () => {
    const dir = await tempDir();
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'events.jsonl');
    // .mts: the temp dir has no package.json saying "module", and the script uses top-level await.
    const script = join(dir, 'run.mts');
    const src = (p: string) => JSON.stringify(pathToFileURL(join(ROOT, p)).href);
    await writeFile(
      script,
      [
        `import { FileOutput } from ${src('src/outputs/file/output.ts')};`,
        `import { Metrics } from ${src('src/metrics/registry.ts')};`,
        `import { silentLogger } from ${src('src/log.ts')};`,
        `const config = { type: 'file', name: 'f', path: ${JSON.stringify(path)}, fsync: 'interval', fsyncIntervalMs: 1000,`,
        `  buffer: { type: 'memory', maxEvents: 100, maxSize: 1048576, whenFull: 'block', sync: 'normal', flushIntervalMs: 500 }, fileMode: 0o600, filter: { eventTypes: null, sources: null, minSeverity: null } } as const;`,
        `const out = new FileOutput(config, { metrics: new Metrics('t', { defaultMetrics: false }), logger: silentLogger, version: 't' });`,
        'out.start();',
        `for (let i = 0; i < 10; i++) out.send(Buffer.from('{"i":' + i + '}\\n'), {} as never);`,
        'await out.close(5000);',
        // No process.exit: the process must end on its own once close() resolved.
        'console.log("closed");',
      ].join('\n'),
    );
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', script],
        { cwd: ROOT, timeout: 30_000, killSignal: 'SIGKILL' },
        (err, stdout, stderr) =>
          res({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
      );
    });
    expect(result).toMatchObject({ code: 0, stdout: 'closed\n' });
    expect((await readFile(path, 'utf8')).split('\n')).toHaveLength(11);
  });
});

/** Descriptors of this process that point at `path` (Linux /proc). */
async function openDescriptorsTo(path: string): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === path || target === `${path} (deleted)`) out.push(fd);
  }
  return out;
}
