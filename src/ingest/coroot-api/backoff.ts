import { backoffCeiling, withJitter } from '../../lib/backoff.js';

/**
 * How long to wait before the next poll: the interval after a success; after `failures`
 * consecutive failures the interval doubled `failures - 1` times, capped at max_backoff
 * (never below the interval); ±10% jitter (lib/backoff.ts `tenth`). `random` in [0, 1)
 * picks the jitter.
 */
export function pollDelay(
  failures: number,
  intervalMs: number,
  maxBackoffMs: number,
  random = Math.random(),
): number {
  const ceiling =
    failures <= 0 ? intervalMs : backoffCeiling(failures - 1, intervalMs, Math.max(maxBackoffMs, intervalMs));
  return withJitter(ceiling, 'tenth', () => random);
}
