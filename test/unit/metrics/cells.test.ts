/*
 * Cells must be invisible in the exposition: a scrape shows exactly what direct
 * prom-client updates would have shown. The histogram test also guards the one place
 * that reaches into prom-client's internals (see src/metrics/cells.ts).
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterCells, HistogramCells } from '../../../src/metrics/cells.js';
import { Metrics } from '../../../src/metrics/registry.js';

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** Two registries, one updated directly and one through cells, with the same metric names. */
function pair() {
  return { direct: new Registry(), cells: new Registry() };
}

describe('metric cells', () => {
  it('counters: same exposition as direct inc, including inc(0) and series order', async () => {
    const { direct, cells: cellRegistry } = pair();
    const d = new Counter({
      name: 'c_total',
      help: 'h',
      labelNames: ['a', 'b'] as const,
      registers: [direct],
    });
    const cells = new CounterCells<'a' | 'b'>();
    new Counter({
      name: 'c_total',
      help: 'h',
      labelNames: ['a', 'b'] as const,
      registers: [cellRegistry],
      collect() {
        cells.flush(this);
      },
    });
    const ops: Array<[string, string, number]> = [
      ['x', '1', 1],
      ['y', '2', 0],
      ['x', '1', 5],
      ['z', '3', 2.5],
    ];
    for (const [a, b, n] of ops) {
      d.labels(a, b).inc(n);
      cells.cell({ a, b }).inc(n);
    }
    expect(await cellRegistry.metrics()).toBe(await direct.metrics());
    // A second scrape adds only what came since.
    d.labels('x', '1').inc();
    cells.cell({ a: 'x', b: '1' }).inc();
    expect(await cellRegistry.metrics()).toBe(await direct.metrics());
    expect(await cellRegistry.metrics()).toBe(await direct.metrics());
    expect(() => cells.cell({ a: 'x', b: '1' }).inc(-1)).toThrow(TypeError);
    expect(() => cells.cell({ a: 'x', b: '1' }).inc(Number.NaN)).toThrow(TypeError);
  });

  it('histograms: same buckets, count and sum as direct observe', async () => {
    const { direct, cells: cellRegistry } = pair();
    const d = new Histogram({
      name: 'h_seconds',
      help: 'h',
      labelNames: ['e'] as const,
      buckets: BUCKETS,
      registers: [direct],
    });
    const cells = new HistogramCells<'e'>(BUCKETS);
    new Histogram({
      name: 'h_seconds',
      help: 'h',
      labelNames: ['e'] as const,
      buckets: BUCKETS,
      registers: [cellRegistry],
      collect() {
        cells.flush(this);
      },
    });
    // Values on, between and beyond the bounds. (Sums can differ in the last bit once
    // several flushes add partial sums, so the checks below flush at most one value late.)
    const values = [0, 0.0001, 0.0005, 0.5, 1, 2, 0.25, 0.125, 0.0625];
    for (const [i, v] of values.entries()) {
      const e = i % 3 === 0 ? 'alertmanager' : 'coroot';
      d.labels(e).observe(v);
      cells.cell({ e }).observe(v);
    }
    expect(await cellRegistry.metrics()).toBe(await direct.metrics());
    d.labels('coroot').observe(0.001);
    cells.cell({ e: 'coroot' }).observe(0.001);
    expect(await cellRegistry.metrics()).toBe(await direct.metrics());
    expect(() => cells.cell({ e: 'coroot' }).observe(Number.POSITIVE_INFINITY)).toThrow(TypeError);
  });

  it('Metrics: the ingest duration histogram uses the buckets docs/metrics.md shows', async () => {
    const metrics = new Metrics('test', { defaultMetrics: false });
    metrics.ingestDurationCell('coroot').observe(0.0003);
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'coroot_event_recorder_ingest_request_duration_seconds_bucket{le="0.0005",endpoint="coroot"} 1',
    );
    expect(text).toContain(
      'coroot_event_recorder_ingest_request_duration_seconds_bucket{le="0.00025",endpoint="coroot"} 0',
    );
    expect(text).toContain(
      'coroot_event_recorder_ingest_request_duration_seconds_count{endpoint="coroot"} 1',
    );
  });
});
