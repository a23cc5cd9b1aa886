/** Backoff shared by the outputs (webhook retries, file reopen, Kafka reconnect). */

/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and
 * Jitter"): the wait before retry `n` (0 for the first retry) is uniform in
 * [0, min(maxMs, baseMs * 2^n)). Full jitter spreads the retries of many workers (and of
 * many recorders behind one receiver) so a recovering receiver is not hit in lockstep.
 */
export function backoffDelay(
  retry: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  return withJitter(backoffCeiling(retry, baseMs, maxMs), 'full', random);
}

/**
 * How a wait is spread below its ceiling. `full`: uniform in [0, ceiling), spreads a herd
 * most (webhook retries). `equal`: uniform in [ceiling/2, ceiling], never retries at once
 * (Kafka reconnects). `tenth`: uniform within ±10% of the ceiling, so pollers started together
 * do not stay in step (Coroot API polls). `none`: the ceiling itself (one local file, no herd
 * to spread).
 */
export type Jitter = 'full' | 'equal' | 'tenth' | 'none';

export function withJitter(ceiling: number, jitter: Jitter, random: () => number = Math.random): number {
  switch (jitter) {
    case 'full':
      return Math.floor(random() * ceiling);
    case 'equal':
      return Math.round(ceiling / 2 + (random() * ceiling) / 2);
    case 'tenth':
      return Math.round(ceiling * (0.9 + 0.2 * random()));
    case 'none':
      return ceiling;
  }
}

/** The upper bound of the jittered wait before retry `retry`. */
export function backoffCeiling(retry: number, baseMs: number, maxMs: number): number {
  // 2^n overflows to Infinity for large n, which Math.min absorbs; negative n is treated as 0.
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, retry));
}

/**
 * Exponential backoff state (file reopen, Kafka reconnect/retry): `next()` returns
 * `backoffCeiling` for the current attempt and advances it; `reset()` after a success.
 * No jitter here: the file output has one local file, no herd to spread; callers that
 * want jitter (Kafka) apply it to the result.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs = 100,
    private readonly maxMs = 5000,
  ) {}

  /** The delay before the next attempt; each call doubles the following one. */
  next(): number {
    const delay = backoffCeiling(this.attempt, this.initialMs, this.maxMs);
    if (delay < this.maxMs) this.attempt += 1;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}
