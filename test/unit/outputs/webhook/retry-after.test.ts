import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../../../src/outputs/webhook/retry-after.js';

const NOW = Date.parse('2024-05-01T12:00:00Z');

describe('Retry-After', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('1', NOW)).toBe(1000);
    expect(parseRetryAfter(' 120 ', NOW)).toBe(120_000);
  });

  it('reads an HTTP date as the time left until it', () => {
    expect(parseRetryAfter('Wed, 01 May 2024 12:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Wednesday, 01-May-24 12:00:05 GMT', NOW)).toBe(5000);
    expect(parseRetryAfter('Wed May  1 12:00:02 2024', NOW)).not.toBeNull();
  });

  it('treats a date in the past as no wait', () => {
    expect(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', NOW)).toBe(0);
  });

  it('ignores what is neither (the caller falls back to its backoff)', () => {
    for (const bad of [
      undefined,
      '',
      '   ',
      '-5',
      '1.5',
      'soon',
      '2024-05-01T12:00:30Z',
      'Wed, 99 Foo 2024 GMT',
      '1e3',
    ]) {
      expect(parseRetryAfter(bad, NOW), String(bad)).toBeNull();
    }
  });

  it('takes the first value when a header repeats', () => {
    expect(parseRetryAfter(['2', '7'], NOW)).toBe(2000);
  });
});
