import type { OutputFilter } from '../../src/config/common.js';
import type { RecorderEvent } from '../../src/events/event.js';
import { EventFactory } from '../../src/events/factory.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import type { Output } from '../../src/outputs/output.js';
import { Recorder } from '../../src/recorder/recorder.js';
import type { BenchOptions, BenchResult } from './types.js';

const ALL: OutputFilter = { eventTypes: null, sources: null, minSeverity: null };

/** An output that takes every event and keeps nothing: isolates the recorder's own cost. */
const nullOutput: Output = {
  name: 'null',
  kind: 'null',
  start() {},
  send: () => true,
  isUp: () => true,
  pending: () => 0,
  close: async () => {},
};

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** `record()` ns/op: the median of many timed runs, each over a prefilled set of events. */
export async function benchRecord(opts: BenchOptions): Promise<BenchResult[]> {
  const perRun = 20_000;
  const runs = opts.quick ? 15 : 60;
  const recorder = new Recorder(perRun, new Metrics('bench', { defaultMetrics: false }), silentLogger);
  recorder.swapOutputs([{ output: nullOutput, filter: ALL }]);
  const factory = new EventFactory('bench');
  const events: RecorderEvent[] = Array.from({ length: perRun }, (_, i) =>
    factory.stamp({
      source: 'coroot',
      type: i % 2 ? 'alert_firing' : 'alert_resolved',
      fingerprint: i.toString(16).padStart(16, '0'),
      severity: 'warning',
      data: { alert: { n: i } },
    }),
  );
  const samples: number[] = [];
  for (let r = 0; r < runs + 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < perRun; i++) recorder.record(events[i] as RecorderEvent);
    const t1 = process.hrtime.bigint();
    recorder.drainNow();
    if (r >= 5) samples.push(Number(t1 - t0) / perRun); // the first runs warm the JIT up
  }
  // Let the scheduled loop turn run once so nothing is left pending.
  await new Promise((r) => setImmediate(r));
  const ns = median(samples);
  return [
    {
      scenario: 'record() hot path',
      unit: 'ns/op',
      value: round(ns),
      target: '<= 1000 ns/op (issue 8: <= 500)',
      met: ns <= 1000,
      note: `median of ${runs} runs x ${perRun} calls`,
    },
  ];
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
