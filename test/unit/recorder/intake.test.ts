import { describe, expect, it } from 'vitest';
import type { OutputFilter } from '../../../src/config/common.js';
import { type EventDraft, SEVERITY } from '../../../src/events/event.js';
import { EventFactory } from '../../../src/events/factory.js';
import { silentLogger } from '../../../src/log.js';
import { Metrics } from '../../../src/metrics/registry.js';
import { DraftIntake } from '../../../src/recorder/intake.js';
import { Recorder } from '../../../src/recorder/recorder.js';
import { CollectingOutput } from '../../helpers/collecting-output.js';
import { waitFor } from '../../helpers/wait.js';

const ALL: OutputFilter = { eventTypes: null, sources: null, minSeverity: null };
const draft = (n: number): EventDraft => ({
  source: 'alertmanager',
  type: 'alert_firing',
  fingerprint: n.toString(16).padStart(16, '0'),
  severity: 'critical',
  dedupKey: `alert-${n}`,
  data: { alert: { n } },
});

describe('DraftIntake', () => {
  it('stamps drafts (id, @timestamp, instance, severity) and queues them all or none', async () => {
    const recorder = new Recorder(3, new Metrics('test', { defaultMetrics: false }), silentLogger);
    const out = new CollectingOutput('o');
    recorder.swapOutputs([{ output: out, filter: ALL }]);
    const intake = new DraftIntake(recorder, new EventFactory('node-a'));
    const at = Date.parse('2026-12-07T03:00:00.000Z');
    expect(intake.acceptAll([draft(1), draft(2)], at)).toBe('accepted');
    expect(intake.acceptAll([draft(3), draft(4)], at)).toBe('queue_full');
    expect(intake.acceptAll([draft(5), draft(6), draft(7), draft(8)], at)).toBe('too_large');
    await waitFor(() => out.events.length === 2);
    expect(out.events.map((e) => [e['@timestamp'], e.instance, e.fingerprint, e[SEVERITY]])).toEqual([
      ['2026-12-07T03:00:00.000Z', 'node-a', '0000000000000001', 'critical'],
      ['2026-12-07T03:00:00.000Z', 'node-a', '0000000000000002', 'critical'],
    ]);
    expect(out.events[0]?.id).not.toBe(out.events[1]?.id);
    expect(intake.record(draft(9))).toBe(true);
  });

  it('stands for the recorder toward ingest: room, capacity, accepted count, drops', async () => {
    const metrics = new Metrics('test', { defaultMetrics: false });
    const recorder = new Recorder(2, metrics, silentLogger);
    const intake = new DraftIntake(recorder, new EventFactory('node-a'));
    expect([intake.capacity, intake.full, intake.accepted]).toEqual([2, false, 0]);
    expect(intake.acceptAll([draft(1), draft(2)])).toBe('accepted');
    // No output yet: the two stay queued.
    expect([intake.full, intake.accepted]).toEqual([true, 2]);
    expect(intake.unavailable()).toBeNull();
    // No `block` output: nothing to wait for.
    expect(intake.whenDurable(intake.accepted, 1000)).toBeNull();
    intake.dropped('queue_full', 3);
    intake.updateGauges();
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/_events_dropped_total\{[^}]*reason="queue_full"[^}]*\} 3/);
    expect(text).toMatch(/_queue_length 2/);
  });
});
