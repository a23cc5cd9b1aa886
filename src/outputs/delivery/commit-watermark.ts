/**
 * Tracks how far an output has made the events it took durable, for `Output.committed()`.
 * Events are numbered in the order `send` took them; the output reports them settled in the
 * same order (written, or lost and counted). `committed()` covers the events taken since the
 * previous call and resolves once all of them are settled: true when none was lost.
 *
 * One caller at a time (the write loop's commit round), so "since the previous call" is the
 * round's own events.
 */
export class CommitWatermark {
  /** Events taken so far. */
  private taken = 0;
  /** Events settled so far (written or lost); never more than `taken`. */
  private settled = 0;
  /** Where the previous `committed()` call's range ended. */
  private lastCall = 0;
  /** Half-open ranges [from, to) of event numbers that were lost; pruned once no waiter can overlap them. */
  private lost: Array<[number, number]> = [];
  private waiters: Array<{ from: number; to: number; resolve: (ok: boolean) => void }> = [];

  /** `send` took `n` events. */
  take(n = 1): void {
    this.taken += n;
  }

  /** The next `n` events (in `send` order) are written and durable. */
  written(n: number): void {
    if (n <= 0) return;
    this.settled = Math.min(this.taken, this.settled + n);
    this.release();
  }

  /** The next `n` events are lost (the caller counts the drops). */
  lostNext(n: number): void {
    if (n <= 0) return;
    const from = this.settled;
    this.settled = Math.min(this.taken, this.settled + n);
    this.lost.push([from, this.settled]);
    this.release();
  }

  /**
   * Everything taken and not yet settled is lost or in doubt (a close gave up while a write
   * may still finish): any waiter covering those events learns false. Later `written`/`lostNext`
   * calls for them still advance the count.
   */
  abandonPending(): void {
    if (this.settled >= this.taken) return;
    this.lost.push([this.settled, this.taken]);
    for (const w of this.waiters) w.resolve(!this.lostIn(w.from, w.to));
    this.waiters = [];
  }

  committed(): Promise<boolean> {
    const from = this.lastCall;
    const to = this.taken;
    this.lastCall = to;
    if (this.settled >= to) {
      const ok = !this.lostIn(from, to);
      this.prune();
      return Promise.resolve(ok);
    }
    return new Promise((resolve) => this.waiters.push({ from, to, resolve }));
  }

  private release(): void {
    while (this.waiters.length > 0) {
      const w = this.waiters[0] as (typeof this.waiters)[number];
      if (this.settled < w.to) break;
      this.waiters.shift();
      w.resolve(!this.lostIn(w.from, w.to));
    }
    this.prune();
  }

  private lostIn(from: number, to: number): boolean {
    return this.lost.some(([a, b]) => a < to && b > from);
  }

  private prune(): void {
    if (this.lost.length === 0) return;
    const oldest = this.waiters[0]?.from ?? this.lastCall;
    this.lost = this.lost.filter(([, b]) => b > oldest);
  }
}
