/*
 * FileOutput under the real logrotate binary while events stream in (docs/architecture.md "Tests"):
 * create mode, create mode with a postrotate SIGUSR1, and copytruncate.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecorderEvent } from '../../src/events/event.js';
import { serializeEvent } from '../../src/events/serialize.js';
import { Logger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/registry.js';
import { FILE_OUTPUT_DEFAULTS, type FileOutputConfig } from '../../src/outputs/file/config.js';
import { FileOutput, type FileOutputOptions } from '../../src/outputs/file/output.js';
import type { LogLine } from '../helpers/daemon.js';
import { testAlertEvent } from '../helpers/events.js';
import { registrySum } from '../helpers/metrics.js';
import { idsIn, readJsonl } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';

const LOGROTATE = '/usr/sbin/logrotate';
const HAVE_LOGROTATE = existsSync(LOGROTATE);
const REQUIRED = process.env.REQUIRE_LOGROTATE === '1';
if (!HAVE_LOGROTATE && !REQUIRED) {
  console.log(`logrotate suite skipped: ${LOGROTATE} not found (install it: apt-get install logrotate)`);
}

const OUTPUT = 'file-logrotate';
const ROTATIONS = 4;

function alertEvent(seq: number, phase: string): RecorderEvent {
  return testAlertEvent(seq, { alert: { rule: 'logrotate-test', extra: { seq, phase } } });
}

class Harness {
  readonly metrics = new Metrics('test', { defaultMetrics: false });
  readonly logs: LogLine[] = [];
  readonly output: FileOutput;
  readonly accepted: RecorderEvent[] = [];
  /** Id → the phase it was sent in (copytruncate: `quiet` must survive, `during` may not). */
  readonly phaseOf = new Map<string, string>();
  sendCalls = 0;
  private seq = 0;

  constructor(
    readonly dir: string,
    readonly path: string,
    opts: FileOutputOptions,
  ) {
    const config: FileOutputConfig = {
      type: 'file',
      name: OUTPUT,
      path,
      fsync: 'interval',
      fsyncIntervalMs: 100,
      buffer: { ...FILE_OUTPUT_DEFAULTS.buffer, maxEvents: 100_000 },
      // Not logrotate's 0640: the mode tells who created the live file.
      fileMode: 0o600,
      filter: { eventTypes: null, sources: null, minSeverity: null },
    };
    const logger = new Logger('debug', (line) => {
      this.logs.push(JSON.parse(line) as LogLine);
    });
    this.output = new FileOutput(config, { metrics: this.metrics, logger, version: 'test' }, opts);
  }

  send(n: number, phase: string): void {
    for (let i = 0; i < n; i++) {
      const event = alertEvent(this.seq++, phase);
      this.sendCalls += 1;
      if (this.output.send(serializeEvent(event), event)) {
        this.accepted.push(event);
        this.phaseOf.set(event.id, phase);
      }
    }
  }

  /** Sends small batches on every timer tick until stopped: load, not synchronization. */
  stream(phase: string): () => Promise<void> {
    let running = true;
    const loop = (async () => {
      while (running) {
        this.send(5, phase);
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    return async () => {
      running = false;
      await loop;
    };
  }

  metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return registrySum(this.metrics.registry, `coroot_event_recorder_${name}`, { output: OUTPUT, ...labels });
  }

  written(): Promise<number> {
    return this.metric('output_events_total', { result: 'written' });
  }

  async waitAllWritten(): Promise<void> {
    await waitFor(
      async () => this.output.pending() === 0 && (await this.written()) === this.accepted.length,
      {
        what: 'every accepted event written',
      },
    );
  }

  async expectInvariant(): Promise<void> {
    const [written, failed, dropped] = await Promise.all(
      ['written', 'failed', 'dropped'].map((result) => this.metric('output_events_total', { result })),
    );
    expect((written ?? 0) + (failed ?? 0) + (dropped ?? 0) + this.output.pending()).toBe(this.sendCalls);
    expect(dropped).toBe(0);
    expect(failed).toBe(0);
  }

  /** The rotated files oldest first, then the live one. */
  files(): string[] {
    const out: string[] = [];
    for (let n = ROTATIONS + 1; n >= 1; n--)
      if (existsSync(`${this.path}.${n}`)) out.push(`${this.path}.${n}`);
    out.push(this.path);
    return out;
  }

  /** Ids of every line of every file in that order; each line validated against the schema. */
  async idsOnDisk(): Promise<string[]> {
    const ids: string[] = [];
    for (const file of this.files()) ids.push(...(await idsIn(file)));
    return ids;
  }
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function logrotate(conf: string, state: string): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(LOGROTATE, ['-f', '-s', state, conf], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function expectClean(run: RunResult): void {
  expect(run.stderr).not.toMatch(/File exists/);
  expect(run).toMatchObject({ code: 0, stderr: '' });
}

/** Once 50 more events streamed in since the last rotation, rotates; logrotate must succeed cleanly. */
async function rotateAfterMoreEvents(h: Harness, conf: string, state: string): Promise<void> {
  const before = h.accepted.length;
  await waitFor(() => h.accepted.length >= before + 50, {
    what: 'events streamed since the last rotation',
  });
  expectClean(await logrotate(conf, state));
}

/**
 * The verdict of a create-mode run once streaming stopped: every accepted event on disk
 * exactly once, in send order, across one file per rotation plus the live one, which
 * logrotate created; no error logged; the accounting invariant holds.
 */
async function expectCreateModeRun(h: Harness): Promise<void> {
  await h.waitAllWritten();
  await h.output.close(5000);

  // Lines follow the descriptor, so oldest rotated file → live file is exactly the send order.
  expect(await h.idsOnDisk()).toEqual(h.accepted.map((e) => e.id));
  expect(h.files()).toHaveLength(ROTATIONS + 1);
  // logrotate created the live file (its mode, not ours): we never created it first.
  expect((await stat(h.path)).mode & 0o777).toBe(0o640);
  expect(h.logs.filter((l) => l.level === 'error')).toEqual([]);
  await h.expectInvariant();
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(directives: string[], opts: FileOutputOptions) {
  const dir = await mkdtemp(join(tmpdir(), 'cer-logrotate-'));
  const path = join(dir, 'events.jsonl');
  const conf = join(dir, 'logrotate.conf');
  const state = join(dir, 'logrotate.state');
  // logrotate refuses a config that group or others may write.
  await writeFile(conf, `${path} {\n${directives.map((d) => `  ${d}\n`).join('')}}\n`, { mode: 0o644 });
  const h = new Harness(dir, path, opts);
  cleanups.push(async () => {
    await h.output.close(1000);
    await rm(dir, { recursive: true, force: true });
  });
  h.output.start();
  await waitFor(() => h.output.isUp(), { what: 'output up' });
  return { h, conf, state };
}

if (!HAVE_LOGROTATE && REQUIRED) {
  it('logrotate is installed (REQUIRE_LOGROTATE=1)', () => {
    expect.fail(`${LOGROTATE} missing; install it: apt-get install logrotate`);
  });
}

describe.runIf(HAVE_LOGROTATE)('FileOutput under logrotate', () => {
  it('create mode while events stream: logrotate never races us, every event lands exactly once', async () => {
    const { h, conf, state } = await setup(['create 0640', 'rotate 5', 'missingok'], {});
    const stop = h.stream('stream');
    try {
      for (let i = 1; i <= ROTATIONS; i++) {
        await rotateAfterMoreEvents(h, conf, state);
        await waitFor(async () => (await h.metric('file_reopens_total')) === i, {
          what: `reopen after rotation ${i}`,
        });
      }
    } finally {
      await stop();
    }
    await expectCreateModeRun(h);
  });

  it('create mode with a postrotate reopen (SIGUSR1): every event lands exactly once', async () => {
    // A real postrotate `kill -USR1` needs this test to be its own process (vitest's
    // default forks pool); in a worker thread the signal would hit the whole runner, so
    // there the test calls reopen() itself right after logrotate exits.
    const viaSignal = isMainThread;
    let signals = 0;
    let output: FileOutput | null = null;
    const onSignal = (): void => {
      signals += 1;
      output?.reopen();
    };
    const postrotate = viaSignal ? [`postrotate`, `  kill -USR1 ${process.pid}`, 'endscript'] : [];
    // Long check interval and grace: the reopen, not the fallback, must do the job.
    const { h, conf, state } = await setup(['create 0640', 'rotate 5', 'missingok', ...postrotate], {
      checkIntervalMs: 60_000,
      recreateGraceMs: 60_000,
    });
    output = h.output;
    if (viaSignal) process.on('SIGUSR1', onSignal);
    const stop = h.stream('stream');
    try {
      for (let i = 1; i <= ROTATIONS; i++) {
        await rotateAfterMoreEvents(h, conf, state);
        if (viaSignal) await waitFor(() => signals === i, { what: `SIGUSR1 ${i} from postrotate` });
        else h.output.reopen();
        await waitFor(async () => (await h.metric('file_reopens_total')) >= i, {
          what: `reopen after rotation ${i}`,
        });
      }
    } finally {
      await stop();
      if (viaSignal) process.off('SIGUSR1', onSignal);
    }
    await expectCreateModeRun(h);
  });

  it('copytruncate: keeps writing, leaves no NUL hole, loses nothing outside the copy-to-truncate window', async () => {
    const { h, conf, state } = await setup(['copytruncate', 'rotate 5', 'missingok'], {});
    for (let i = 1; i <= 3; i++) {
      // Written before logrotate starts: these must all survive.
      h.send(50, 'quiet');
      await h.waitAllWritten();
      // Written while logrotate runs: any of these may fall in its window.
      const stop = h.stream('during');
      const run = await logrotate(conf, state);
      await stop();
      expectClean(run);
    }
    h.send(50, 'quiet');
    await h.waitAllWritten();
    await h.output.close(5000);

    for (const file of h.files()) {
      expect((await readFile(file)).includes(0), `NUL bytes in ${file}`).toBe(false);
    }
    const onDisk = await h.idsOnDisk();
    expect(new Set(onDisk).size).toBe(onDisk.length);
    const sentOrder = h.accepted.map((e) => e.id);
    // What survived is in send order (a subsequence of what was sent).
    let cursor = 0;
    for (const id of onDisk) {
      cursor = sentOrder.indexOf(id, cursor);
      expect(cursor, `unexpected or out-of-order id ${id}`).toBeGreaterThanOrEqual(0);
      cursor += 1;
    }
    const found = new Set(onDisk);
    const lostQuiet = sentOrder.filter((id) => !found.has(id) && h.phaseOf.get(id) === 'quiet');
    expect(lostQuiet).toEqual([]);
    // The last quiet batch went to the truncated live file: writing continued there.
    const live = await readJsonl(h.path);
    expect(live.length).toBeGreaterThanOrEqual(50);
    // Same inode all along: copytruncate needs no reopen.
    expect(await h.metric('file_reopens_total')).toBe(0);
    expect(h.logs.filter((l) => l.level === 'error')).toEqual([]);
    await h.expectInvariant();
  });
});
