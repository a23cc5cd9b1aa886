/**
 * Child process of scenario 1 (run with --expose-gc): bytes the JS heap grows by per
 * `record()` call, with pre-built events and a null output.
 *
 * Each window starts right after a forced full GC, makes WINDOW calls into an empty queue
 * and reads `used_heap_size` before and after; with no GC inside the window the growth is
 * exactly what was allocated (new-space allocation moves the heap's top). Windows that a
 * scavenge interrupted are counted (each one means at least a semi-space worth of
 * allocation) and left out of the byte figure. The write loop's work (drainNow: it
 * serializes, which allocates) happens between windows, outside the measurement.
 *
 * A control runs the same windows through a wrapper that allocates one small object per
 * call, to show in every run that the method sees per-call allocation.
 *
 * Prints one JSON line: AllocFigures.
 */
import { constants, PerformanceObserver, performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { RecorderEvent } from '../../src/events/event.js';
import { nullRecorder, prebuiltEvents } from './record-setup.js';
import { median } from './stats.js';

export interface AllocFigures {
  calls: number;
  bytesPerCall: number;
  /** Scavenges (young-generation GCs) that started inside a measured window. */
  scavenges: number;
  controlBytesPerCall: number;
  controlScavenges: number;
}

const WINDOW = 65_536;
const DISTINCT = 4096; // events are reused: record() keeps only a reference

const gc = globalThis.gc;
if (typeof gc !== 'function') throw new Error('run with --expose-gc');

const windows = process.argv.includes('quick') ? 16 : 64;
const events = prebuiltEvents(DISTINCT);
const recorder = nullRecorder(WINDOW);
// No outputs: draining between windows then only empties the queue, instead of serializing
// every event (seconds of work that is not record()'s). record() itself never looks at them.
recorder.swapOutputs([]);

const scavengeStarts: number[] = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) scavengeStarts.push(e.startTime);
  }
});
observer.observe({ entryTypes: ['gc'] });

/** Written by the control so its object escapes and cannot be optimized away. */
let sink: { event: RecorderEvent } | null = null;
const direct = (e: RecorderEvent): boolean => recorder.record(e);
const allocating = (e: RecorderEvent): boolean => {
  sink = { event: e };
  return recorder.record(e);
};

async function measure(
  record: (e: RecorderEvent) => boolean,
): Promise<{ perCall: number; scavenges: number }> {
  const spans: Array<[number, number]> = [];
  const growth: number[] = [];
  for (let w = 0; w < windows + 4; w++) {
    recorder.drainNow();
    (gc as () => void)();
    const t0 = performance.now();
    const before = getHeapStatistics().used_heap_size;
    for (let i = 0; i < WINDOW; i++) record(events[i % DISTINCT] as RecorderEvent);
    const after = getHeapStatistics().used_heap_size;
    const t1 = performance.now();
    // The first windows warm the JIT up (compiled code is installed on the heap).
    if (w < 4) continue;
    spans.push([t0, t1]);
    growth.push(after - before);
  }
  recorder.drainNow();
  // GC entries are delivered asynchronously: let them arrive before counting.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 0));
  const hit = new Set<number>();
  for (const start of scavengeStarts) {
    const i = spans.findIndex(([a, b]) => start >= a && start <= b);
    if (i >= 0) hit.add(i);
  }
  const clean = growth.filter((_, i) => !hit.has(i));
  scavengeStarts.length = 0;
  return {
    perCall: clean.length > 0 ? median(clean) / WINDOW : Number.NaN,
    scavenges: hit.size,
  };
}

const own = await measure(direct);
const control = await measure(allocating);
observer.disconnect();
const figures: AllocFigures = {
  calls: windows * WINDOW,
  bytesPerCall: own.perCall,
  scavenges: own.scavenges,
  controlBytesPerCall: control.perCall,
  controlScavenges: control.scavenges,
};
process.stdout.write(`${JSON.stringify({ ...figures, sink: sink !== null })}\n`);
