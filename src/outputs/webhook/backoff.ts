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
  return Math.floor(random() * backoffCeiling(retry, baseMs, maxMs));
}

/** The upper bound of the jittered wait before retry `retry`. */
export function backoffCeiling(retry: number, baseMs: number, maxMs: number): number {
  // 2^n overflows to Infinity for large n, which Math.min absorbs; negative n is treated as 0.
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, retry));
}
