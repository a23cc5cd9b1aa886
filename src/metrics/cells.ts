/*
 * Hot-path metric updates without prom-client's per-call cost.
 *
 * prom-client hashes the label set on every inc/set/observe, even through a `.labels()`
 * child, and a histogram observe also allocates a closure. On the ingest path that is
 * several per request. A cell is one series kept as plain numbers; the owner of a metric
 * hands every cell's news to prom-client in the metric's `collect` hook, which prom-client
 * runs before any read (`registry.metrics()`, `metric.get()`). What a scrape shows is
 * therefore exactly what direct updates would have shown; only the bookkeeping moves.
 */
import type { Counter, Histogram, LabelValues } from 'prom-client';

/** One counter series. */
export class CounterCell {
  /** Increments not yet handed to prom-client. */
  pending = 0;
  /** An inc happened since the last flush (an inc(0) still creates the series, as in prom-client). */
  touched = false;

  inc(n = 1): void {
    // prom-client's own checks, kept so a bad value fails where it is made, not at scrape.
    if (!(n >= 0 && n < Number.POSITIVE_INFINITY)) throw new TypeError(`invalid counter increment: ${n}`);
    this.pending += n;
    this.touched = true;
  }
}

/** The cells of one counter; the counter must be updated only through them. */
export class CounterCells<T extends string> {
  private readonly cells = new Map<string, { labels: LabelValues<T>; cell: CounterCell }>();

  /** The cell of one label set; callers keep it, so the lookup is paid once per series. */
  cell(labels: LabelValues<T>): CounterCell {
    const key = seriesKey(labels);
    let entry = this.cells.get(key);
    if (!entry) {
      entry = { labels, cell: new CounterCell() };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  /** From the counter's `collect` hook. */
  flush(counter: Counter<T>): void {
    for (const { labels, cell } of this.cells.values()) {
      if (!cell.touched) continue;
      const n = cell.pending;
      cell.pending = 0;
      cell.touched = false;
      counter.inc(labels, n);
    }
  }
}

/** One histogram series: counts per bucket (the last slot is above every bound), sum and count. */
export class HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`invalid histogram value: ${value}`);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    (this.counts as Float64Array)[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count += 1;
  }
}

/**
 * The per-series record prom-client keeps for a histogram (its private `hashMap` values),
 * as in prom-client 15.1.3: package.json pins that exact version, so an upgrade is a
 * deliberate change that test/unit/metrics/cells.test.ts checks.
 */
interface HistogramEntry {
  labels: object;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

/**
 * The cells of one histogram; the histogram must be observed only through them.
 *
 * prom-client has no public call that adds many observations at once, so a flush adds
 * the cell's counts into the series' entry in prom-client's own per-series map. That
 * reaches into prom-client's internals: test/unit/metrics/cells.test.ts checks that the
 * exposition equals what plain `observe` calls produce, so an upgrade that changes them
 * fails there rather than in production.
 */
export class HistogramCells<T extends string> {
  private readonly cells = new Map<string, { labels: LabelValues<T>; cell: HistogramCell }>();

  constructor(private readonly bounds: readonly number[]) {}

  cell(labels: LabelValues<T>): HistogramCell {
    const key = seriesKey(labels);
    let entry = this.cells.get(key);
    if (!entry) {
      entry = { labels, cell: new HistogramCell(this.bounds) };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  /** From the histogram's `collect` hook. */
  flush(histogram: Histogram<T>): void {
    for (const { labels, cell } of this.cells.values()) {
      if (cell.count === 0) continue;
      const entry = entryOf(histogram, labels);
      for (let i = 0; i < this.bounds.length; i++) {
        const n = cell.counts[i] as number;
        if (n === 0) continue;
        const le = String(this.bounds[i]);
        entry.bucketValues[le] = (entry.bucketValues[le] ?? 0) + n;
        cell.counts[i] = 0;
      }
      cell.counts[this.bounds.length] = 0;
      entry.sum += cell.sum;
      entry.count += cell.count;
      cell.sum = 0;
      cell.count = 0;
    }
  }
}

/** prom-client's entry for `labels`, created empty (by its public `zero`) when absent. */
function entryOf<T extends string>(histogram: Histogram<T>, labels: LabelValues<T>): HistogramEntry {
  const find = (): HistogramEntry | undefined => {
    const map = (histogram as unknown as { hashMap: Record<string, HistogramEntry> }).hashMap;
    for (const entry of Object.values(map)) {
      if (sameLabels(entry.labels as Record<string, unknown>, labels)) return entry;
    }
    return undefined;
  };
  let entry = find();
  if (!entry) {
    histogram.zero(labels);
    entry = find();
  }
  if (!entry || typeof entry.bucketValues !== 'object' || typeof entry.sum !== 'number') {
    throw new Error('prom-client histogram internals changed; see src/metrics/cells.ts');
  }
  return entry;
}

function sameLabels(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(b);
  if (Object.keys(a).length !== keys.length) return false;
  for (const k of keys) if (String(a[k]) !== String(b[k])) return false;
  return true;
}

/** Label values in a fixed key order, so equal label sets share a cell. */
function seriesKey(labels: object): string {
  const record = labels as Record<string, unknown>;
  return Object.keys(record)
    .sort()
    .map((k) => `${k}\u0000${String(record[k])}`)
    .join('\u0001');
}
