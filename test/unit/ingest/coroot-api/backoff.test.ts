import { describe, expect, it } from 'vitest';
import { pollDelay } from '../../../../src/ingest/coroot-api/backoff.js';

describe('pollDelay', () => {
  it('waits the interval after a success, and doubles per consecutive failure up to max_backoff', () => {
    const mid = 0.5; // no jitter
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => pollDelay(n, 30_000, 300_000, mid))).toEqual([
      30_000, 30_000, 60_000, 120_000, 240_000, 300_000, 300_000,
    ]);
  });

  it('never waits less than the interval, even with max_backoff below it', () => {
    expect(pollDelay(5, 10_000, 1_000, 0.5)).toBe(10_000);
  });

  it('stays finite after very many failures', () => {
    expect(pollDelay(10_000, 100, 400, 0.5)).toBe(400);
  });

  it('jitters by at most ±10%', () => {
    expect(pollDelay(0, 1000, 1000, 0)).toBe(900);
    expect(pollDelay(0, 1000, 1000, 0.999_999)).toBe(1100);
  });
});
