import { describe, expect, it } from 'vitest';
import type { DedupeConfig } from '../../../src/config/dedupe.js';
import type { EventDraft } from '../../../src/events/event.js';
import { Deduper } from '../../../src/ingest/dedupe.js';
import { Metrics } from '../../../src/metrics/registry.js';
import { registrySum } from '../../helpers/metrics.js';

function draft(key: string, source: EventDraft['source'] = 'alertmanager'): EventDraft {
  return {
    source,
    type: 'alert_firing',
    fingerprint: '0'.repeat(16),
    dedupKey: key,
    data: {},
    severity: 'unknown',
  };
}

const keys = (drafts: readonly EventDraft[]): string[] => drafts.map((d) => d.dedupKey);

describe('Deduper', () => {
  const settings: DedupeConfig = { windowMs: 1_000, maxEntries: 100 };

  it('passes a first copy, holds back a second within the window, and counts it by source on commit', async () => {
    const metrics = new Metrics('test', { defaultMetrics: false });
    const d = new Deduper(metrics);
    const first = d.select([draft('a')], settings, 0);
    expect(keys(first.fresh)).toEqual(['a']);
    d.commit(first, settings, 0);
    const second = d.select([draft('a'), draft('b')], settings, 999);
    expect(keys(second.fresh)).toEqual(['b']);
    expect(second.copies).toBe(1);
    expect(await registrySum(metrics.registry, 'coroot_event_recorder_events_deduplicated_total')).toBe(0);
    d.commit(second, settings, 999);
    expect(
      await registrySum(metrics.registry, 'coroot_event_recorder_events_deduplicated_total', {
        source: 'alertmanager',
      }),
    ).toBe(1);
  });

  it('lets a copy through once the window has passed since the first', () => {
    const d = new Deduper(new Metrics('test', { defaultMetrics: false }));
    d.commit(d.select([draft('a')], settings, 0), settings, 0);
    expect(keys(d.select([draft('a')], settings, 1_000).fresh)).toEqual(['a']);
  });

  it('remembers nothing until commit (a refused request stays unseen)', () => {
    const d = new Deduper(new Metrics('test', { defaultMetrics: false }));
    d.select([draft('a')], settings, 0);
    expect(keys(d.select([draft('a')], settings, 1).fresh)).toEqual(['a']);
  });

  it('holds back a copy within one request', () => {
    const d = new Deduper(new Metrics('test', { defaultMetrics: false }));
    const batch = d.select([draft('a'), draft('b'), draft('a')], settings, 0);
    expect(keys(batch.fresh)).toEqual(['a', 'b']);
    expect(batch.copies).toBe(1);
  });

  it('is bounded by max_entries, forgetting the oldest first, and drops expired entries', () => {
    const d = new Deduper(new Metrics('test', { defaultMetrics: false }));
    const small: DedupeConfig = { windowMs: 1_000, maxEntries: 3 };
    for (let i = 0; i < 10; i++) d.commit(d.select([draft(`k${i}`)], small, i), small, i);
    expect(d.size).toBe(3);
    // k9 is remembered, k0 was forgotten.
    expect(keys(d.select([draft('k9'), draft('k0')], small, 10).fresh)).toEqual(['k0']);
    d.commit(d.select([draft('late')], small, 5_000), small, 5_000);
    expect(d.size).toBe(1);
  });

  it('with window 0 passes everything and forgets what it held', () => {
    const d = new Deduper(new Metrics('test', { defaultMetrics: false }));
    d.commit(d.select([draft('a')], settings, 0), settings, 0);
    const off: DedupeConfig = { windowMs: 0, maxEntries: 100 };
    const batch = d.select([draft('a'), draft('a')], off, 1);
    expect(keys(batch.fresh)).toEqual(['a', 'a']);
    expect(d.size).toBe(0);
  });
});
