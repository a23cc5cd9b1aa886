import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay, withJitter } from '../../../src/lib/backoff.js';
import { classifyStatus } from '../../../src/outputs/webhook/policy.js';

describe('backoff', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffCeiling(n, 500, 30_000))).toEqual([
      500, 1000, 2000, 4000, 8000, 16_000, 30_000,
    ]);
    // 2^n overflows to Infinity long before this; the cap must still hold.
    expect(backoffCeiling(5000, 500, 30_000)).toBe(30_000);
  });

  it('is full jitter: uniform in [0, ceiling)', () => {
    expect(backoffDelay(2, 500, 30_000, () => 0)).toBe(0);
    expect(backoffDelay(2, 500, 30_000, () => 0.5)).toBe(1000);
    expect(backoffDelay(2, 500, 30_000, () => 0.999999)).toBe(1999);
  });

  it('never exceeds min(max, base * 2^n) and is never negative', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, base, max, r) => {
          const cap = Math.max(base, max);
          const d = backoffDelay(n, base, cap, () => r);
          return d >= 0 && d <= Math.min(cap, base * 2 ** n) && Number.isInteger(d);
        },
      ),
    );
  });

  it('spreads retries: many draws are not all equal', () => {
    const draws = new Set(Array.from({ length: 50 }, () => backoffDelay(3, 100, 10_000)));
    expect(draws.size).toBeGreaterThan(10);
  });
});

describe('jitter modes', () => {
  it('spread a ceiling of 1000 ms as each mode promises', () => {
    const at = (r: number) => () => r;
    expect([0, 0.5, 0.999].map((r) => withJitter(1000, 'full', at(r)))).toEqual([0, 500, 999]);
    expect([0, 0.5, 0.999].map((r) => withJitter(1000, 'equal', at(r)))).toEqual([500, 750, 1000]);
    expect([0, 0.5, 0.999].map((r) => withJitter(1000, 'tenth', at(r)))).toEqual([900, 1000, 1100]);
    expect(withJitter(1000, 'none', at(0.3))).toBe(1000);
  });
});

describe('status classes', () => {
  it('retries 408, 429 and 5xx except 501 and 505; delivers 2xx; rejects the rest', () => {
    const cls = (codes: number[]) => codes.map(classifyStatus);
    expect(cls([200, 201, 202, 204, 299])).toEqual(Array(5).fill('delivered'));
    expect(cls([408, 429, 500, 502, 503, 504, 507, 599])).toEqual(Array(8).fill('retry'));
    expect(cls([501, 505, 400, 401, 403, 404, 409, 413, 422, 301, 302, 304, 100])).toEqual(
      Array(13).fill('reject'),
    );
  });
});
