import { performance } from 'node:perf_hooks';
import type { DurableOutcome } from '../events/sink.js';
/** How an acknowledged ingest request ends (the contract ingest sees, events/sink.ts). */
export type AckOutcome = DurableOutcome;

interface Waiter {
  readonly seq: number;
  readonly deadline: number;
  resolve: ((outcome: AckOutcome) => void) | null;
}

/**
 * Ingest requests waiting for their events to become durable, in the order their events were
 * queued (so both their sequence numbers and their deadlines only grow): the oldest is always
 * the first to settle or to time out, and one timer serves them all.
 */
export class AckWaiters {
  private items: Waiter[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;

  get waiting(): boolean {
    return this.head < this.items.length;
  }

  add(seq: number, timeoutMs: number): Promise<AckOutcome> {
    return new Promise((resolve) => {
      this.items.push({ seq, deadline: performance.now() + timeoutMs, resolve });
      if (!this.timer) this.arm();
    });
  }

  /** Every waiter whose events are all at or below `upTo`. */
  settleUpTo(upTo: number, outcome: AckOutcome): void {
    while (this.head < this.items.length) {
      const w = this.items[this.head] as Waiter;
      if (w.seq > upTo) break;
      this.settle(w, outcome);
    }
    this.compact();
  }

  settleAll(outcome: AckOutcome): void {
    while (this.head < this.items.length) this.settle(this.items[this.head] as Waiter, outcome);
    this.compact();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private settle(w: Waiter, outcome: AckOutcome): void {
    this.head++;
    const resolve = w.resolve;
    w.resolve = null;
    resolve?.(outcome);
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
      // The timer stays armed: at a steady rate most requests wait alone, and clearing it here
      // meant a new Timeout per request. When it fires with nothing due it re-arms for the
      // oldest waiter, if any (deadlines only grow, so it is never late).
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  private arm(): void {
    const first = this.items[this.head];
    if (!first) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        const now = performance.now();
        while (this.head < this.items.length) {
          const w = this.items[this.head] as Waiter;
          if (w.deadline > now) break;
          this.settle(w, 'timeout');
        }
        this.compact();
        if (this.waiting && !this.timer) this.arm();
      },
      Math.max(1, Math.ceil(first.deadline - performance.now())),
    );
    this.timer.unref();
  }
}
