import { performance } from 'node:perf_hooks';
import type { Metrics } from '../metrics/registry.js';

/** Why a `when_full: block` output holds intake back: its buffer has no room, or it cannot write at all. */
export type HoldReason = 'room' | 'down';

/**
 * `output_blocked_seconds_total{output}`: the time each `block` output held intake back, for
 * either reason, counted once when both apply. Open intervals are added at every scrape.
 */
export class IntakeHolds {
  private readonly open = new Map<string, { since: number; reasons: Set<HoldReason> }>();

  constructor(private readonly metrics: Metrics) {}

  hold(output: string, reason: HoldReason): void {
    const entry = this.open.get(output);
    if (entry) entry.reasons.add(reason);
    else this.open.set(output, { since: performance.now(), reasons: new Set([reason]) });
  }

  release(output: string, reason: HoldReason): void {
    const entry = this.open.get(output);
    if (!entry?.reasons.delete(reason)) return;
    if (entry.reasons.size > 0) return;
    this.add(output, performance.now() - entry.since);
    this.open.delete(output);
  }

  /** Adds the time of intervals still open (before a scrape). */
  flush(): void {
    const now = performance.now();
    for (const [output, entry] of this.open) {
      this.add(output, now - entry.since);
      entry.since = now;
    }
  }

  private add(output: string, ms: number): void {
    if (ms > 0) this.metrics.outputBlockedSeconds.labels(output).inc(ms / 1000);
  }
}
