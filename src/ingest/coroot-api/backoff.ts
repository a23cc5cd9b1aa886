/** ±10% around the wait, so pollers started together do not stay in step. */
const JITTER = 0.1;

/**
 * How long to wait before the next poll: the interval after a success; after `failures`
 * consecutive failures the interval doubled `failures - 1` times, capped at max_backoff
 * (never below the interval). `random` in [0, 1) picks the jitter.
 */
export function pollDelay(
  failures: number,
  intervalMs: number,
  maxBackoffMs: number,
  random = Math.random(),
): number {
  const base =
    failures <= 0
      ? intervalMs
      : Math.min(intervalMs * 2 ** Math.min(failures - 1, 30), Math.max(maxBackoffMs, intervalMs));
  return Math.round(base * (1 - JITTER + 2 * JITTER * random));
}
