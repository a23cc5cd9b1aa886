import { describe, expect, it } from 'vitest';
import type { OutputFilter } from '../../../src/config/common.js';
import type { RecorderEvent } from '../../../src/events/event.js';
import { EventFactory } from '../../../src/events/factory.js';
import { silentLogger } from '../../../src/log.js';
import { Metrics } from '../../../src/metrics/registry.js';
import { Recorder } from '../../../src/recorder/recorder.js';
import { CollectingOutput } from '../../helpers/collecting-output.js';
import { registrySum } from '../../helpers/metrics.js';
import { waitFor } from '../../helpers/wait.js';

const ALL: OutputFilter = { eventTypes: null, sources: null, minSeverity: null };
const factory = new EventFactory('unit');
function event(i: number): RecorderEvent {
  return factory.stamp({
    source: 'coroot',
    type: 'alert_firing',
    fingerprint: i.toString(16).padStart(16, '0'),
    dedupKey: `bp-${i}`,
    severity: 'warning',
    data: { alert: { severity: 'warning', n: i } },
  });
}

function setup(queueSize: number) {
  const metrics = new Metrics('test', { defaultMetrics: false });
  const recorder = new Recorder(queueSize, metrics, silentLogger);
  return { metrics, recorder };
}

describe('Recorder back-pressure (when_full: block)', () => {
  it('holds events in the queue while a block output has no room, then resumes by itself', async () => {
    const { recorder, metrics } = setup(10);
    const file = new CollectingOutput('file', { whenFull: 'block' });
    const hook = new CollectingOutput('hook');
    file.room = 2;
    recorder.swapOutputs([
      { output: file, filter: ALL },
      { output: hook, filter: ALL },
    ]);
    const events = Array.from({ length: 10 }, (_, i) => event(i));
    expect(recorder.recordAll(events)).toBe('accepted');
    await waitFor(() => file.events.length === 2);
    // Nothing is dropped: the rest waits in the queue, which fills (ingest then answers 503).
    expect(recorder.length).toBe(8);
    expect(recorder.recordAll([event(97), event(98), event(99)])).toBe('queue_full');
    // The loop stops for every output: a drop_newest output behind it gets nothing meanwhile.
    expect(hook.events.length).toBe(2);
    file.makeRoom(100);
    await waitFor(() => file.events.length === 10 && hook.events.length === 10);
    expect(file.events).toEqual(events);
    expect(recorder.length).toBe(0);
    recorder.updateGauges();
    const blocked = await registrySum(
      metrics.registry,
      'coroot_event_recorder_output_blocked_seconds_total',
      {
        output: 'file',
      },
    );
    expect(blocked).toBeGreaterThan(0);
  });

  it('a block output filtered away from an event does not hold it back', async () => {
    const { recorder } = setup(10);
    const file = new CollectingOutput('file', { whenFull: 'block' });
    const hook = new CollectingOutput('hook');
    file.room = 0;
    recorder.swapOutputs([
      { output: file, filter: { ...ALL, eventTypes: ['deployment'] } },
      { output: hook, filter: ALL },
    ]);
    recorder.recordAll([event(1), event(2)]);
    await waitFor(() => hook.events.length === 2);
    expect(file.events.length).toBe(0);
  });

  it('drainNow (reload, shutdown) hands everything on even without room', () => {
    const { recorder } = setup(10);
    const file = new CollectingOutput('file', { whenFull: 'block' });
    file.room = 0;
    recorder.swapOutputs([{ output: file, filter: ALL }]);
    recorder.recordAll([event(1), event(2), event(3)]);
    recorder.drainNow();
    expect(file.events.length).toBe(3);
  });
});

describe('Recorder acknowledgements', () => {
  it('nothing to wait for without a block output', () => {
    const { recorder } = setup(10);
    recorder.swapOutputs([{ output: new CollectingOutput('hook'), filter: ALL }]);
    recorder.recordAll([event(1)]);
    expect(recorder.whenDurable(recorder.accepted, 1000)).toBeNull();
  });

  it('resolves written once every block output has committed the events', async () => {
    const { recorder } = setup(10);
    const file = new CollectingOutput('file', { whenFull: 'block' });
    let release: (ok: boolean) => void = () => {};
    let calls = 0;
    file.committed = () => {
      calls++;
      return new Promise<boolean>((r) => {
        release = r;
      });
    };
    recorder.swapOutputs([{ output: file, filter: ALL }]);
    recorder.recordAll([event(1), event(2)]);
    const first = recorder.whenDurable(recorder.accepted, 5000);
    expect(first).not.toBeNull();
    await waitFor(() => calls === 1);
    // Arriving while the commit is in flight: rides the next round, not this one.
    recorder.recordAll([event(3)]);
    const second = recorder.whenDurable(recorder.accepted, 5000);
    await waitFor(() => file.events.length === 3);
    expect(calls).toBe(1);
    release(true);
    expect(await first).toBe('written');
    await waitFor(() => calls === 2);
    release(false);
    expect(await second).toBe('lost');
  });

  it('times out when the events cannot be made durable in time; they stay queued', async () => {
    const { recorder } = setup(10);
    const file = new CollectingOutput('file', { whenFull: 'block' });
    file.room = 0;
    recorder.swapOutputs([{ output: file, filter: ALL }]);
    recorder.recordAll([event(1)]);
    const outcome = await recorder.whenDurable(recorder.accepted, 30);
    expect(outcome).toBe('timeout');
    expect(recorder.length).toBe(1);
    file.makeRoom(1);
    await waitFor(() => file.events.length === 1);
  });

  it('reports an unwritable block output to ingest and readiness, and its recovery once it stays up', async () => {
    const { recorder } = setup(10);
    const file = new CollectingOutput('file', { whenFull: 'block' });
    let up = false;
    file.isUp = () => up;
    recorder.swapOutputs([{ output: file, filter: ALL }]);
    expect(recorder.unavailable()?.name).toBe('file');
    up = true;
    // Up for a moment is not recovered (a full disk lets a small write through now and then).
    expect(recorder.unavailable()?.name).toBe('file');
    up = false;
    expect(recorder.unavailable()?.name).toBe('file');
    up = true;
    const started = performance.now();
    await waitFor(() => recorder.unavailable() === null, { timeoutMs: 5000 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    recorder.stopWaiting();
  });
});
