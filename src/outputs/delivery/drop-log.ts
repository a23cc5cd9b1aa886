import { performance } from 'node:perf_hooks';

/**
 * Throttles the "buffer full; dropping events" warning: a black-holed destination must
 * not flood the log (the metric counts every drop). `note()` counts one drop and returns
 * how many to report when the warning is due, else 0.
 */
export class DropLogThrottle {
  private sinceLog = 0;
  private lastLog = Number.NEGATIVE_INFINITY;

  constructor(private readonly intervalMs = 10_000) {}

  note(): number {
    this.sinceLog++;
    const now = performance.now();
    if (now - this.lastLog < this.intervalMs) return 0;
    const dropped = this.sinceLog;
    this.lastLog = now;
    this.sinceLog = 0;
    return dropped;
  }
}
