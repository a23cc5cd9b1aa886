/**
 * Exponential backoff for reopening a file: quick enough that a transient failure
 * (a directory being recreated, a disk freed) heals in a fraction of a second, capped
 * so a permanent one costs one open attempt every few seconds. No jitter: there is one
 * local file per output, no herd to spread.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs = 100,
    private readonly maxMs = 5000,
  ) {}

  /** The delay before the next attempt; each call doubles the following one. */
  next(): number {
    const delay = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    if (delay < this.maxMs) this.attempt += 1;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}
