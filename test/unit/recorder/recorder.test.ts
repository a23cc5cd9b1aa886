import { describe, expect, it } from 'vitest';
import type { OutputFilter } from '../../../src/config/common.js';
import type { EventDraft, JsonObject, RecorderEvent } from '../../../src/events/event.js';
import { EventFactory } from '../../../src/events/factory.js';
import { lifecycleDraft } from '../../../src/events/lifecycle.js';
import { serializeEvent } from '../../../src/events/serialize.js';
import { silentLogger } from '../../../src/log.js';
import { Metrics } from '../../../src/metrics/registry.js';
import { Recorder, wants } from '../../../src/recorder/recorder.js';
import { CollectingOutput } from '../../helpers/collecting-output.js';
import { registrySum } from '../../helpers/metrics.js';
import { waitFor } from '../../helpers/wait.js';

const ALL: OutputFilter = { eventTypes: null, sources: null, minSeverity: null };

const factory = new EventFactory('unit');
const LIFECYCLE = { version: 'test', configHash: '0000000000000000', outputs: [] };
function event(i: number, over: Partial<EventDraft> = {}): RecorderEvent {
  return factory.stamp({
    source: 'coroot',
    type: 'alert_firing',
    fingerprint: i.toString(16).padStart(16, '0'),
    dedupKey: i.toString(16).padStart(16, '0'),
    severity: 'warning',
    data: { alert: { severity: 'warning', n: i } },
    ...over,
  });
}

function setup(queueSize: number) {
  const metrics = new Metrics('test', { defaultMetrics: false });
  const recorder = new Recorder(queueSize, metrics, silentLogger);
  return { metrics, recorder };
}

describe('Recorder', () => {
  it('delivers every event to every output in order, serialized once and shared', async () => {
    const { recorder, metrics } = setup(100);
    const a = new CollectingOutput('a');
    const b = new CollectingOutput('b');
    recorder.swapOutputs([
      { output: a, filter: ALL },
      { output: b, filter: ALL },
    ]);
    const events = Array.from({ length: 50 }, (_, i) => event(i));
    for (const e of events) expect(recorder.record(e)).toBe(true);
    await waitFor(() => a.events.length === 50 && b.events.length === 50);
    expect(a.events).toEqual(events);
    expect(a.lines.map((l) => JSON.parse(l.toString()))).toEqual(JSON.parse(JSON.stringify(events)));
    expect(a.lines.every((l, i) => l === b.lines[i])).toBe(true);
    expect(a.lines.every((l) => l[l.length - 1] === 0x0a)).toBe(true);
    expect(
      await registrySum(metrics.registry, 'coroot_event_recorder_events_received_total', {
        source: 'coroot',
        type: 'alert_firing',
      }),
    ).toBe(50);
  });

  it('an event JSON cannot write is counted as unserializable and the batch goes on', async () => {
    const { recorder, metrics } = setup(10);
    const out = new CollectingOutput('a');
    recorder.swapOutputs([{ output: out, filter: ALL }]);
    // A BigInt makes JSON.stringify throw, standing in for any serialization bug.
    const bad = event(2, { data: { alert: { n: BigInt(2) } } as unknown as JsonObject });
    expect(recorder.recordAll([event(1), bad, event(3)])).toBe('accepted');
    await waitFor(() => out.events.length === 2);
    expect(out.events.map((e) => e.fingerprint)).toEqual([event(1).fingerprint, event(3).fingerprint]);
    expect(
      await registrySum(metrics.registry, 'coroot_event_recorder_events_dropped_total', {
        reason: 'unserializable',
      }),
    ).toBe(1);
  });

  it('record refuses when full and counts queue_full; recordAll is all-or-nothing', async () => {
    const { recorder, metrics } = setup(3);
    const out = new CollectingOutput('a');
    recorder.swapOutputs([{ output: out, filter: ALL }]);
    expect(recorder.recordAll([event(1), event(2)])).toBe('accepted');
    expect(recorder.recordAll([event(3), event(4)])).toBe('queue_full');
    expect(recorder.length).toBe(2);
    expect(recorder.recordAll([event(5), event(6), event(7), event(8)])).toBe('too_large');
    expect(recorder.record(event(9))).toBe(true);
    expect(recorder.record(event(10))).toBe(false);
    expect(
      await registrySum(metrics.registry, 'coroot_event_recorder_events_dropped_total', {
        reason: 'queue_full',
      }),
    ).toBe(1);
    await waitFor(() => out.events.length === 3);
    expect(out.events.map((e) => e.data.alert)).toEqual([1, 2, 9].map((n) => ({ severity: 'warning', n })));
  });

  it('swapOutputs delivers everything recorded before the swap to the old set only', () => {
    const { recorder } = setup(100);
    const old = new CollectingOutput('old');
    const next = new CollectingOutput('new');
    recorder.swapOutputs([{ output: old, filter: ALL }]);
    for (let i = 0; i < 10; i++) recorder.record(event(i));
    recorder.swapOutputs([{ output: next, filter: ALL }]);
    for (let i = 10; i < 15; i++) recorder.record(event(i));
    recorder.drainNow();
    expect(old.events.map((e) => e.data.alert)).toHaveLength(10);
    expect(next.events).toHaveLength(5);
  });

  it('after stopAccepting, record drops with reason shutdown', async () => {
    const { recorder, metrics } = setup(10);
    recorder.stopAccepting();
    expect(recorder.record(event(1))).toBe(false);
    expect(recorder.recordAll([event(2)])).toBe('stopped');
    expect(
      await registrySum(metrics.registry, 'coroot_event_recorder_events_dropped_total', {
        reason: 'shutdown',
      }),
    ).toBe(1);
  });

  it('an output that throws does not stop delivery to the others', async () => {
    const { recorder } = setup(10);
    const good = new CollectingOutput('good');
    recorder.swapOutputs([
      { output: new CollectingOutput('bad', { throwOnSend: true }), filter: ALL },
      { output: good, filter: ALL },
    ]);
    recorder.record(event(1));
    recorder.record(event(2));
    await waitFor(() => good.events.length === 2);
  });

  it('routes by filter', () => {
    const firing = event(1);
    const resolved = event(2, { type: 'alert_resolved', source: 'alertmanager' });
    const critical = event(3, { severity: 'critical', data: { alert: { severity: 'critical' } } });
    const started = factory.stamp(lifecycleDraft('recorder_started', 'unit', LIFECYCLE));
    expect(wants({ ...ALL, eventTypes: ['alert_firing'] }, firing)).toBe(true);
    expect(wants({ ...ALL, eventTypes: ['alert_firing'] }, resolved)).toBe(false);
    expect(wants({ ...ALL, sources: ['alertmanager'] }, resolved)).toBe(true);
    expect(wants({ ...ALL, sources: ['alertmanager'] }, firing)).toBe(false);
    expect(wants({ ...ALL, minSeverity: 'critical' }, firing)).toBe(false);
    expect(wants({ ...ALL, minSeverity: 'critical' }, critical)).toBe(true);
    expect(wants({ ...ALL, minSeverity: 'warning' }, started)).toBe(false);
    expect(wants({ ...ALL, minSeverity: 'info' }, started)).toBe(true);
  });

  it('routes by the severity the parser gave the event, never by what `data` holds', () => {
    // The serialized event keeps severity only inside data; the draft's is what counts.
    const says = event(1, { severity: 'critical', data: { alert: { severity: 'info' } } });
    const unknown = event(2, { severity: 'unknown', data: { alert: { severity: 'critical' } } });
    expect(wants({ ...ALL, minSeverity: 'critical' }, says)).toBe(true);
    expect(wants({ ...ALL, minSeverity: 'info' }, unknown)).toBe(false);
    expect(JSON.parse(serializeEvent(says).toString())).not.toHaveProperty('severity');
  });

  it('an output with min_severity: info receives lifecycle events and deployments', async () => {
    const { recorder } = setup(16);
    const info = new CollectingOutput('info');
    recorder.swapOutputs([{ output: info, filter: { ...ALL, minSeverity: 'info' } }]);
    for (const type of ['recorder_started', 'config_reloaded', 'recorder_stopped'] as const)
      recorder.record(factory.stamp(lifecycleDraft(type, 'unit', LIFECYCLE)));
    recorder.record(event(9, { type: 'deployment', severity: 'info', data: { deployment: {} } }));
    recorder.record(event(10, { severity: 'unknown', data: { alert: {} } }));
    await waitFor(() => info.events.length === 4);
    recorder.drainNow();
    expect(info.events.map((e) => e.type)).toEqual([
      'recorder_started',
      'config_reloaded',
      'recorder_stopped',
      'deployment',
    ]);
  });
});
