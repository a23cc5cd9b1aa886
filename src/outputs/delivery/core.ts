import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RecorderEvent } from '../../events/event.js';
import { ConditionWaiters } from '../../lib/condition.js';
import type { Logger } from '../../log.js';
import type { DropReason } from '../../metrics/drop-reason.js';
import type { OutputMeter } from '../../metrics/registry.js';
import { Batcher, type BatchLimits, type DeliveryBatch } from './batcher.js';
import type { DeliveryBuffer, EventMeta } from './buffer.js';
import { DropLogThrottle } from './drop-log.js';

/** How one delivery of a batch ended. */
export type DeliveryOutcome =
  /** The destination has the batch; `bytes` is what `output_bytes_total` counts. */
  | { kind: 'written'; bytes: number }
  /** Given up: the records are counted under `reason` and leave the buffer. */
  | { kind: 'lost'; reason: DropReason }
  /**
   * Not now: the batch (or the parts it was split into) waits in the retry list, ordered by
   * `order`, and goes before any new batch once `slots()` allows.
   */
  | { kind: 'retry'; batches?: readonly DeliveryBatch[] };

/** What an output type supplies to the delivery core: how many requests may run, and how to make one. */
export interface DeliveryTarget {
  /** How many batches may be in flight now; 0 holds delivery (not started, connecting, backing off). */
  slots(): number;
  /** Delivers one batch (attempts, and retries of its own if it wants them). Should not reject; a rejection counts as `write_error`. */
  deliver(batch: DeliveryBatch): Promise<DeliveryOutcome>;
  /** The close budget ended: abort requests in progress. Their outcomes are ignored from now on. */
  abort(): void;
}

export interface DeliveryCoreOptions {
  readonly buffer: DeliveryBuffer;
  readonly batch: BatchLimits;
  readonly meter: OutputMeter;
  readonly log: Logger;
  /** Logs drops at a full buffer; called at most every 10 s with the count since the last call. */
  readonly onFullDrops: (dropped: number) => void;
  /** After the close budget, how long aborted deliveries get to settle before `close` returns (default 0). */
  readonly settleMs?: number;
}

/** What the buffer keeps of an event beside its line. */
export function eventMeta(event: RecorderEvent): EventMeta {
  return {
    id: event.id,
    type: event.type,
    source: event.source,
    fingerprint: event.fingerprint,
    timestamp: event['@timestamp'],
    instance: event.instance,
  };
}

/**
 * The delivery core shared by the webhook and Kafka outputs: buffer → batch → send →
 * retry → acknowledge (docs/architecture.md). The output's `send` calls `offer`; the core
 * keeps the buffer, cuts batches (Batcher), runs up to `target.slots()` deliveries at once,
 * keeps batches to retry in their original order, acknowledges finished ones to the buffer
 * and counts every record exactly once: written, lost with a reason, or `shutdown` when
 * `close`'s budget ends first.
 */
export class DeliveryCore {
  readonly buffer: DeliveryBuffer;
  private readonly batcher: Batcher;
  private readonly meter: OutputMeter;
  private readonly log: Logger;
  private readonly dropLog = new DropLogThrottle();
  private accepting = true;
  /** False once a durable buffer's close began: nothing new is sent, the rest waits on disk. */
  private launching = true;
  /** The close budget ended: nothing new starts and late outcomes are ignored (already counted). */
  private budgetOver = false;
  private running = 0;
  /** Batches to send again, ordered by `order`; taken before new ones. */
  private retries: DeliveryBatch[] = [];
  private pumping = false;
  private wakeScheduled = false;
  /** Wakes a pump that waits for the batch being formed. */
  private poke: (() => void) | null = null;
  /** The batch the batcher is forming; kept across pumps so no record it read is lost. */
  private forming: Promise<DeliveryBatch | null> | null = null;
  /** performance.now() at which the close budget ends. */
  private deadline = Number.POSITIVE_INFINITY;
  /** Backoff waits in progress, with the performance.now() at which each ends. */
  private readonly waits = new Map<AbortController, number>();
  private readonly settled = new ConditionWaiters();
  /** `when_full: block`: the write loop waiting for room (the buffer says when it frees some). */
  private readonly room = new ConditionWaiters();
  private readonly stopRoomEvents: () => void;
  private closing: Promise<number> | null = null;
  /** Close is over: the buffer is closed, `pending` changes no more. */
  private finished = false;

  constructor(
    private readonly target: DeliveryTarget,
    private readonly opts: DeliveryCoreOptions,
  ) {
    this.buffer = opts.buffer;
    this.batcher = new Batcher(opts.buffer, opts.batch);
    this.meter = opts.meter;
    this.log = opts.log;
    this.meter.trackBuffer(this.buffer);
    this.stopRoomEvents = this.buffer.onRoom(() => this.room.changed());
  }

  /** A disk buffer keeps what is not delivered across a close: nothing is given up at shutdown. */
  private get durable(): boolean {
    return this.buffer.type === 'disk';
  }

  /**
   * From the output's `send`: synchronous, never throws. True when the buffer took the
   * event; else it is counted (`closed` after close began, `buffer_full`) and false.
   */
  offer(line: Buffer, event: RecorderEvent): boolean {
    if (!this.accepting) {
      this.meter.lost('closed');
      return false;
    }
    // Checked before building anything: a destination that is down must cost as little per
    // event as possible, since every event then ends here.
    if (this.buffer.full || !this.buffer.push(line, eventMeta(event))) {
      this.meter.lost('buffer_full');
      this.noteDrop();
      return false;
    }
    if (!this.pumping) this.wake();
    return true;
  }

  /** `Output.hasRoom()`: true while closing too (`offer` then counts `closed`). */
  hasRoom(): boolean {
    return !this.accepting || !this.buffer.full;
  }

  /** `Output.whenRoom()`: resolves when the buffer announces freed room, or close begins. */
  whenRoom(): Promise<void> {
    return this.room.until(() => this.hasRoom(), Number.POSITIVE_INFINITY).then(() => undefined);
  }

  /**
   * `Output.committed()`: as durable as the buffer makes what it took (memory: at once; a disk
   * buffer: committed per its `sync`), so `when_full: block` with a disk buffer acknowledges
   * only what survives a crash.
   */
  committed(): Promise<boolean> {
    return this.buffer.committed().then(
      () => true,
      () => false,
    );
  }

  /** Records taken and not yet written, failed or dropped. */
  get pending(): number {
    return this.buffer.length;
  }

  /**
   * `Output.whenPendingAtMost()`. Every change of `pending` that is not a new event follows a
   * settled delivery or the close, and both announce it on `settled`.
   */
  whenPendingAtMost(atMost: number, signal?: AbortSignal): Promise<boolean> {
    return this.settled.untilAtMost(
      () => this.pending,
      atMost,
      () => this.finished,
      signal,
    );
  }

  /** Deliveries running now. */
  get inFlight(): number {
    return this.running;
  }

  /** True once close's budget ended: attempts still running should stop (their outcome is ignored). */
  get stopped(): boolean {
    return this.budgetOver;
  }

  /** True once close began. */
  get closed(): boolean {
    return !this.accepting;
  }

  /** `target.slots()` may have grown (started, connected, backoff over): send what waits. */
  wake(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    // After the current turn: outcomes that arrive together are all applied (retries in
    // their order) before anything is sent, and events sent together can share a batch.
    setImmediate(this.onWake);
  }

  private readonly onWake = (): void => {
    this.wakeScheduled = false;
    if (this.pumping) this.poke?.();
    else void this.pump();
  };

  /**
   * Waits `ms` before a retry; false (at once) when the wait would outlast the close budget,
   * or when close cuts it short: the caller then gives the batch up as `shutdown`.
   */
  async waitBeforeRetry(ms: number): Promise<boolean> {
    const wakeAt = performance.now() + ms;
    if (wakeAt >= this.deadline || this.budgetOver) return false;
    const ctrl = new AbortController();
    this.waits.set(ctrl, wakeAt);
    try {
      await sleep(ms, undefined, { signal: ctrl.signal });
      return true;
    } catch {
      return false;
    } finally {
      this.waits.delete(ctrl);
    }
  }

  /**
   * Stop taking events, deliver what is held until `budgetMs` ends (partial batches leave at
   * once; a retry that could not happen in time is given up now), then count what is left as
   * `shutdown`, abort what runs and close the buffer. Resolves to the `shutdown` count.
   * Idempotent; never rejects.
   */
  close(budgetMs: number): Promise<number> {
    this.closing ??= this.drainAndClose(budgetMs)
      .catch((err: unknown) => {
        this.log.error('delivery close failed', { err });
        return 0;
      })
      .finally(() => {
        this.finished = true;
        this.settled.changed();
      });
    return this.closing;
  }

  private async drainAndClose(budgetMs: number): Promise<number> {
    const closing = this.durable ? this.stopDurable(budgetMs) : this.drainMemory(budgetMs);
    // `accepting` went false synchronously above: a held-back write loop may go on (offer counts `closed`).
    this.room.changed();
    const lost = await closing;
    this.stopRoomEvents();
    this.meter.untrackBuffer(this.buffer);
    return lost;
  }

  /**
   * A disk buffer: start nothing new, let deliveries in flight finish within the budget (so
   * they are not sent again after the restart), then abort the rest and close the buffer.
   * What is not acknowledged stays on disk for the next start: SIGTERM returns promptly even
   * with the receiver down. Only records the buffer could not write count as `shutdown`.
   */
  private async stopDurable(budgetMs: number): Promise<number> {
    this.accepting = false;
    this.launching = false;
    this.deadline = performance.now();
    this.cutWaits(true);
    this.poke?.();
    const settled = await this.settled.until(() => this.running === 0, budgetMs);
    this.budgetOver = true;
    this.retries = [];
    if (!settled) {
      try {
        this.target.abort();
      } catch (err) {
        this.log.error('aborting deliveries failed', { err });
      }
      await this.settled.until(() => this.running === 0, this.opts.settleMs ?? 0);
    }
    const lost = await this.buffer.close();
    this.meter.lost('shutdown', lost);
    return lost;
  }

  private async drainMemory(budgetMs: number): Promise<number> {
    this.accepting = false;
    this.deadline = performance.now() + Math.max(0, budgetMs);
    this.batcher.flush();
    this.cutWaits(false);
    this.wake();
    const drained = await this.settled.until(() => this.isIdle(), budgetMs);
    let lost = 0;
    if (!drained) {
      this.budgetOver = true;
      // Memory: everything not acknowledged; disk: 0, its records wait for the next start.
      lost = await this.buffer.close();
      this.retries = [];
      this.meter.lost('shutdown', lost);
      try {
        this.target.abort();
      } catch (err) {
        this.log.error('aborting deliveries failed', { err });
      }
      this.cutWaits(true);
      await this.settled.until(() => this.running === 0, this.opts.settleMs ?? 0);
    } else {
      await this.buffer.close();
    }
    return lost;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.budgetOver && this.launching && this.running < this.target.slots()) {
        const retry = this.retries.shift();
        if (retry) {
          this.launch(retry);
          continue;
        }
        // The batch being formed survives a wake: it may wait for records or its flush interval.
        this.forming ??= this.batcher.next();
        const woke = new Promise<'woke'>((resolve) => {
          this.poke = () => resolve('woke');
        });
        const batch = await Promise.race([this.forming, woke]);
        this.poke = null;
        // Woken (a retry, more slots): look again, keep forming.
        if (batch === 'woke') continue;
        this.forming = null;
        // Null: the buffer is closed. Stopped: close counted these records already.
        if (batch === null || this.budgetOver) break;
        // While the batch formed, slots may have closed or a retry may have arrived: order decides.
        this.requeue(batch);
      }
    } catch (err) {
      this.log.error('delivery dispatch failed', { err });
    } finally {
      this.pumping = false;
      this.poke = null;
    }
    this.settled.changed();
  }

  private launch(batch: DeliveryBatch): void {
    this.running++;
    let outcome: Promise<DeliveryOutcome>;
    try {
      outcome = this.target.deliver(batch);
    } catch (err) {
      outcome = Promise.reject(err);
    }
    void outcome
      .catch((err: unknown): DeliveryOutcome => {
        // Only a bug gets here; the records are still accounted for.
        this.log.error('delivery failed unexpectedly', { err });
        return { kind: 'lost', reason: 'write_error' };
      })
      .then((result) => {
        this.running--;
        this.settle(batch, result);
        this.wake();
        this.settled.changed();
      });
  }

  private settle(batch: DeliveryBatch, outcome: DeliveryOutcome): void {
    if (this.budgetOver) return;
    // Given up only because the process stops: a disk buffer keeps the records for the next start.
    if (this.durable && outcome.kind === 'lost' && outcome.reason === 'shutdown') return;
    switch (outcome.kind) {
      case 'written':
        this.meter.written(batch.records.length, outcome.bytes);
        this.buffer.ack(batch.records);
        break;
      case 'lost':
        this.meter.lost(outcome.reason, batch.records.length);
        this.buffer.ack(batch.records);
        break;
      case 'retry':
        for (const part of outcome.batches ?? [batch]) this.requeue(part);
        break;
    }
  }

  private requeue(batch: DeliveryBatch): void {
    const at = this.retries.findIndex((b) => b.order > batch.order);
    if (at === -1) this.retries.push(batch);
    else this.retries.splice(at, 0, batch);
  }

  /** Ends backoff waits: all of them, or those that would end after the close deadline. */
  private cutWaits(all: boolean): void {
    for (const [ctrl, wakeAt] of this.waits) if (all || wakeAt >= this.deadline) ctrl.abort();
  }

  private noteDrop(): void {
    const dropped = this.dropLog.note();
    if (dropped > 0) this.opts.onFullDrops(dropped);
  }

  private isIdle(): boolean {
    return this.buffer.length === 0 && this.running === 0;
  }
}
