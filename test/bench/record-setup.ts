import type { OutputFilter } from '../../src/config/common.js';
import type { RecorderEvent } from '../../src/events/event.js';
import { EventFactory } from '../../src/events/factory.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/registry.js';
import type { Output } from '../../src/outputs/output.js';
import { Recorder } from '../../src/recorder/recorder.js';

const ALL: OutputFilter = { eventTypes: null, sources: null, minSeverity: null };

/** An output that takes every event and keeps nothing: isolates the recorder's own cost. */
const nullOutput: Output = {
  name: 'null',
  kind: 'null',
  start() {},
  send: () => true,
  whenFull: 'drop_newest',
  hasRoom: () => true,
  whenRoom: async () => {},
  committed: async () => true,
  isUp: () => true,
  failing: () => false,
  pending: () => 0,
  whenPendingAtMost: async () => true,
  close: async () => {},
};

/** A Recorder with a queue of `queueSize` feeding one null output. */
export function nullRecorder(queueSize: number): Recorder {
  const recorder = new Recorder(queueSize, new Metrics('bench', { defaultMetrics: false }), silentLogger);
  recorder.swapOutputs([{ output: nullOutput, filter: ALL }]);
  return recorder;
}

/** `n` stamped Coroot alert events, built before any clock starts (firing and resolved alternate). */
export function prebuiltEvents(n: number): RecorderEvent[] {
  const factory = new EventFactory('bench');
  return Array.from({ length: n }, (_, i) =>
    factory.stamp({
      source: 'coroot',
      type: i % 2 ? 'alert_firing' : 'alert_resolved',
      fingerprint: i.toString(16).padStart(16, '0'),
      dedupKey: i.toString(16).padStart(16, '0'),
      severity: 'warning',
      data: { alert: { n: i } },
    }),
  );
}
