import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { RecorderEvent } from '../../src/events/event.js';
import { ROOT } from '../helpers/daemon.js';
import type { AllocFigures } from './record-alloc.js';
import { nullRecorder, prebuiltEvents } from './record-setup.js';
import { median, round } from './stats.js';
import type { BenchOptions, BenchResult } from './types.js';

const NS_TARGET = 500;

/** `record()` ns/op: the median of many timed runs, each over a prefilled set of events. */
function nsPerOp(quick: boolean): BenchResult {
  const perRun = 20_000;
  const runs = quick ? 15 : 60;
  const recorder = nullRecorder(perRun);
  const events = prebuiltEvents(perRun);
  const samples: number[] = [];
  for (let r = 0; r < runs + 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < perRun; i++) recorder.record(events[i] as RecorderEvent);
    const t1 = process.hrtime.bigint();
    recorder.drainNow();
    if (r >= 5) samples.push(Number(t1 - t0) / perRun); // the first runs warm the JIT up
  }
  const ns = median(samples);
  return {
    scenario: '1 record() hot path',
    unit: 'ns/op',
    value: round(ns),
    target: `<= ${NS_TARGET} ns/op`,
    met: ns <= NS_TARGET,
    note: `median of ${runs} runs x ${perRun} calls, pre-built events, null output`,
  };
}

/** Runs record-alloc.ts in a child with --expose-gc (a clean heap, forced GCs between windows). */
function allocFigures(quick: boolean): Promise<AllocFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--expose-gc',
        // A 16 MiB young generation: a window of 65 536 calls can show up to 256 B/call
        // before a scavenge interrupts it (V8 shrinks it after forced GCs otherwise).
        '--min-semi-space-size=16',
        '--import',
        'tsx',
        join(ROOT, 'test/bench/record-alloc.ts'),
        ...(quick ? ['quick'] : []),
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`record-alloc exited with ${code}: ${err.slice(-1000)}`));
      try {
        resolve(JSON.parse(out) as AllocFigures);
      } catch {
        reject(new Error(`record-alloc printed no figures: ${out.slice(0, 500)} ${err.slice(-500)}`));
      }
    });
  });
}

/**
 * Bytes per call are an average over a window: anything record() allocated per call would
 * show as its size (the control shows an extra 32-byte object as ~32 B/call), so under one
 * byte per call means no per-call allocation; the remainder is per-window bookkeeping.
 */
async function allocation(quick: boolean): Promise<BenchResult> {
  const scenario = '1 record() allocation per call';
  const f = await allocFigures(quick);
  // The method must see the control's allocation, or the figure would prove nothing.
  if (!(f.controlBytesPerCall >= 16 || f.controlScavenges > 0)) {
    throw new Error(
      `the control (one extra object per call) measured ${f.controlBytesPerCall} B/call, ${f.controlScavenges} scavenges: the method is blind`,
    );
  }
  if (!Number.isFinite(f.bytesPerCall)) {
    return {
      scenario,
      unit: 'B/call',
      value: Number.NaN,
      target: '< 1 B/call, 0 scavenges',
      met: false,
      note: `every window was interrupted by a scavenge (${f.scavenges}): record() allocates`,
    };
  }
  return {
    scenario,
    unit: 'B/call',
    value: round(f.bytesPerCall, 3),
    target: '< 1 B/call, 0 scavenges',
    met: f.bytesPerCall < 1 && f.scavenges === 0,
    note:
      `JS heap growth per call over ${f.calls} calls in 65536-call windows after a forced GC ` +
      `(v8 used_heap_size, --expose-gc child), scavenges in windows: ${f.scavenges}; ` +
      `control with one extra object per call: ${round(f.controlBytesPerCall, 1)} B/call, ${f.controlScavenges} scavenges`,
  };
}

export async function benchRecord(opts: BenchOptions): Promise<BenchResult[]> {
  const rows = [nsPerOp(opts.quick)];
  try {
    rows.push(await allocation(opts.quick));
  } catch (err) {
    rows.push({
      scenario: '1 record() allocation per call',
      unit: 'B/call',
      value: Number.NaN,
      note: `failed: ${(err as Error).message}`,
    });
  }
  return rows;
}
