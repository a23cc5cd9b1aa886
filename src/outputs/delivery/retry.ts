import { backoffCeiling, type Jitter, withJitter } from '../../lib/backoff.js';

/**
 * When a delivering output tries again: exponential backoff from `baseMs` to `maxMs`
 * (lib/backoff.ts) with the output's jitter; a wait the receiver asked for (HTTP
 * Retry-After) wins, capped at `maxMs`.
 */
export class RetryPolicy {
  constructor(
    readonly baseMs: number,
    readonly maxMs: number,
    readonly jitter: Jitter,
    private readonly random: () => number = Math.random,
  ) {}

  /** The wait before retry `retry` (0 for the first retry). */
  delay(retry: number, hintMs: number | null = null): number {
    if (hintMs !== null) return Math.min(hintMs, this.maxMs);
    return withJitter(backoffCeiling(retry, this.baseMs, this.maxMs), this.jitter, this.random);
  }

  /** A consecutive-failure count over this policy: `next()` after each failure, `reset()` after a success. */
  schedule(): RetrySchedule {
    return new RetrySchedule(this);
  }
}

export class RetrySchedule {
  private failures = 0;

  constructor(private readonly policy: RetryPolicy) {}

  next(): number {
    return this.policy.delay(this.failures++);
  }

  reset(): void {
    this.failures = 0;
  }
}
