import { performance } from 'node:perf_hooks';
import type { OutputFilter } from '../config/common.js';
import {
  type EventSource,
  type EventType,
  type RecorderEvent,
  SEVERITIES,
  SEVERITY,
} from '../events/event.js';
import { serializeEvent } from '../events/serialize.js';
import type { AcceptResult } from '../events/sink.js';
import { MARK, TRACE } from '../lib/latency-trace.js';
import { RingQueue } from '../lib/ring-queue.js';
import type { Logger } from '../log.js';
import type { CounterCell } from '../metrics/cells.js';
import type { Metrics } from '../metrics/registry.js';
import type { Output } from '../outputs/output.js';
import { type AckOutcome, AckWaiters } from './ack-waiters.js';
import { IntakeHolds } from './intake-holds.js';

/** An output as the write loop holds it: the output and which events it wants. */
export interface OutputSlot {
  readonly output: Output;
  readonly filter: OutputFilter;
}

export type RecordResult = AcceptResult;

/**
 * A turn of the loop hands over everything queued when it began, in slices of this many
 * events, checking the clock between slices. A fixed count per turn fell behind whenever
 * one turn of ingest added more (a few 100-alert Alertmanager webhooks): the queue then
 * filled and senders got 503s while the process had CPU to spare.
 */
const LOOP_SLICE = 256;
/** How long a `block` output that could not write must stay up before intake resumes. */
const RECOVERY_MS = 1000;
/** How long one turn may run before yielding to I/O (ingest, output flushes), however much is queued. */
const LOOP_BUDGET_MS = 10;

/**
 * The bounded queue and its single write loop (docs/architecture.md). `record` is synchronous
 * and O(1); the loop is the only code that touches the set of outputs, and it never
 * waits on one: `Output.send` is non-blocking by contract.
 *
 * Back-pressure (docs/operations.md, "Back-pressure and acknowledgements"): before handing an
 * event on, the loop asks every `when_full: block` output that wants it for room; while one
 * has none the event stays at the head of the queue and the loop waits for that output's
 * `whenRoom()`. The queue then fills and ingest answers 503.
 *
 * Acknowledgements: events are numbered as they enter the queue. After a turn that handed
 * events on, one commit round asks each `block` output that received some for `committed()`;
 * when all resolve, every ingest request whose events are all at or below the round's number
 * is answered. Requests arriving during a round ride the next one (group commit).
 */
export class Recorder {
  private readonly queue: RingQueue<RecorderEvent>;
  private slots: readonly OutputSlot[] = [];
  /** The slots whose output has `when_full: block`: asked for room before every event. */
  private blockSlots: readonly OutputSlot[] = [];
  /** Events that entered the queue so far; the last one's number is `accepted`. */
  private enqueued = 0;
  /** Events the loop has taken off the queue (handed on, or filtered, or unserializable). */
  private handed = 0;
  /** Every event up to this number is durable in every `block` output that received it. */
  private durableUpTo = 0;
  private committing = false;
  /** `block` outputs handed events since the last commit round began. */
  private readonly touched = new Set<Output>();
  private readonly acks = new AckWaiters();
  /** The `block` output the loop is waiting on for room, if any. */
  private blockedOn: Output | null = null;
  private readonly holds: IntakeHolds;
  /**
   * `block` outputs that cannot write now, so ingest refuses at once (see `unavailable`), each
   * with since when it has been seen up again (null: still down).
   */
  private readonly down = new Map<string, number | null>();
  private downTimer: NodeJS.Timeout | null = null;
  private loopScheduled = false;
  private accepting = true;
  private readonly receivedCounters = new Map<EventSource, Map<EventType, CounterCell>>();
  private readonly droppedShutdown: CounterCell;
  private readonly droppedQueueFull: CounterCell;
  private readonly droppedUnserializable: CounterCell;

  constructor(
    queueSize: number,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.queue = new RingQueue(queueSize);
    metrics.queueCapacity.set(queueSize);
    this.droppedShutdown = metrics.droppedCell('shutdown');
    this.droppedQueueFull = metrics.droppedCell('queue_full');
    this.droppedUnserializable = metrics.droppedCell('unserializable');
    this.holds = new IntakeHolds(metrics);
  }

  /** The number of the last event that entered the queue (for `whenDurable`). */
  get accepted(): number {
    return this.enqueued;
  }

  /**
   * With `acknowledgements: true`: settles once every event up to `seq` is durable in every
   * `block` output that wanted it (`written`), some of them were lost (`lost`), or `timeoutMs`
   * passed (`timeout`). `null` when there is nothing to wait for (no `block` output).
   */
  whenDurable(seq: number, timeoutMs: number): Promise<AckOutcome> | null {
    if (seq <= this.durableUpTo) return null;
    if (this.blockSlots.length === 0 && this.touched.size === 0 && !this.committing) return null;
    const p = this.acks.add(seq, timeoutMs);
    this.commitRound();
    return p;
  }

  /**
   * A `block` output that cannot write at all now (disk full, folder gone), if any: ingest
   * answers 503 at once rather than queueing what it could not acknowledge, and readiness
   * says the same. Logs once when intake becomes blocked and once when it resumes.
   */
  unavailable(): Output | null {
    let first: Output | null = null;
    const now = performance.now();
    for (const slot of this.blockSlots) {
      const out = slot.output;
      const upSince = this.down.get(out.name);
      if (!out.failing()) {
        if (upSince === undefined) continue;
        // A full disk lets a small write through now and then (the last block's free bytes):
        // intake resumes only once the output has stayed up a while, so neither ingest nor
        // readiness flaps with it.
        if (upSince === null) this.down.set(out.name, now);
        else if (now - upSince >= RECOVERY_MS) {
          this.down.delete(out.name);
          this.resumed(out);
          continue;
        }
        first ??= out;
        continue;
      }
      first ??= out;
      if (upSince !== null) this.down.set(out.name, null);
      if (upSince === undefined) {
        this.holds.hold(out.name, 'down');
        this.logger.warn('output cannot write; intake blocked (503) until it recovers', {
          output: out.name,
          when_full: 'block',
        });
        this.watchDown();
      }
    }
    return first;
  }

  private resumed(out: Output | { name: string }): void {
    this.holds.release(out.name, 'down');
    this.logger.info('output writing again; intake resumed', { output: out.name });
  }

  /** While an output is down, look at it every second: the end must be logged even with no traffic. */
  private watchDown(): void {
    if (this.downTimer) return;
    this.downTimer = setInterval(() => {
      this.unavailable();
      // Outputs no longer in the set (a reload removed them) stop holding intake too.
      for (const name of this.down.keys()) {
        if (!this.blockSlots.some((s) => s.output.name === name)) {
          this.down.delete(name);
          this.resumed({ name });
        }
      }
      if (this.down.size === 0 && this.downTimer) {
        clearInterval(this.downTimer);
        this.downTimer = null;
      }
    }, RECOVERY_MS / 4);
    this.downTimer.unref();
  }

  /** No room for even one event: a request now would be refused whatever it holds. */
  get full(): boolean {
    return this.queue.free === 0;
  }

  get capacity(): number {
    return this.queue.capacity;
  }

  get length(): number {
    return this.queue.length;
  }

  /** Puts one event on the queue. Never waits; false when full or stopped (counted). */
  record(event: RecorderEvent): boolean {
    if (!this.accepting) {
      this.droppedShutdown.inc();
      return false;
    }
    if (!this.queue.push(event)) {
      this.droppedQueueFull.inc();
      return false;
    }
    this.enqueued++;
    this.countReceived(event);
    this.scheduleLoop();
    return true;
  }

  /**
   * All of `events` or none (an ingest request is all-or-nothing). Nothing is counted as
   * dropped here: the caller decides whether a refusal is a 503 (the sender retries, so
   * nothing is lost) or a counted drop (`dropped()`).
   */
  recordAll(events: readonly RecorderEvent[]): RecordResult {
    if (!this.accepting) return 'stopped';
    if (events.length > this.queue.capacity) return 'too_large';
    if (events.length > this.queue.free) return 'queue_full';
    for (const event of events) {
      this.queue.push(event);
      this.countReceived(event);
    }
    this.enqueued += events.length;
    if (events.length > 0) this.scheduleLoop();
    return 'accepted';
  }

  /** Counts events that were refused and will not be retried by their sender. */
  dropped(reason: 'queue_full' | 'shutdown', n: number): void {
    if (n > 0) (reason === 'queue_full' ? this.droppedQueueFull : this.droppedShutdown).inc(n);
  }

  /**
   * Replaces the set of outputs between two events: everything recorded before the call
   * goes to the old set (drained synchronously here, which `send` being non-blocking
   * makes cheap), everything after to the new one. Returns the old set.
   */
  swapOutputs(next: readonly OutputSlot[]): readonly OutputSlot[] {
    this.drainNow();
    const previous = this.slots;
    this.slots = next;
    this.blockSlots = next.filter((s) => s.output.whenFull === 'block');
    this.unblock();
    if (this.queue.length > 0) this.scheduleLoop();
    return previous;
  }

  /** Refuse new events from now on (shutdown); already queued ones are still delivered. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * Hands every queued event to the outputs now (used by reload and shutdown), to `block`
   * outputs too even without room: the set is about to change or close, and what they then
   * hold beyond their bound is at most the recorder queue.
   */
  drainNow(): void {
    while (this.queue.length > 0) this.processBatch(this.queue.length, true);
    this.metrics.queueLength.set(0);
    this.commitRound();
  }

  /** Refreshes gauges that are cheaper to read at scrape time than to keep current. */
  updateGauges(): void {
    this.metrics.queueLength.set(this.queue.length);
    this.holds.flush();
  }

  /** Shutdown: requests still waiting for durability are answered now (503: not confirmed). */
  stopWaiting(): void {
    this.acks.settleAll('lost');
    if (this.downTimer) clearInterval(this.downTimer);
    this.downTimer = null;
  }

  private countReceived(event: RecorderEvent): void {
    let byType = this.receivedCounters.get(event.source);
    if (!byType) {
      byType = new Map();
      this.receivedCounters.set(event.source, byType);
    }
    let counter = byType.get(event.type);
    if (!counter) {
      counter = this.metrics.receivedCell(event.source, event.type);
      byType.set(event.type, counter);
    }
    counter.inc();
  }

  private scheduleLoop(): void {
    if (this.loopScheduled || this.blockedOn) return;
    this.loopScheduled = true;
    setImmediate(this.runLoop);
  }

  private readonly runLoop = (): void => {
    this.loopScheduled = false;
    TRACE?.mark(MARK.loopStart, this.handed);
    try {
      const deadline = performance.now() + LOOP_BUDGET_MS;
      for (let left = this.queue.length; left > 0; left -= LOOP_SLICE) {
        if (!this.processBatch(Math.min(left, LOOP_SLICE), false)) break;
        if (performance.now() >= deadline) break;
      }
    } catch (err) {
      // An output broke its contract by throwing; the loop must keep going for the others.
      this.logger.error('write loop error', { err });
    }
    TRACE?.mark(MARK.loopEnd, this.handed);
    this.metrics.queueLength.set(this.queue.length);
    this.commitRound();
    if (this.queue.length > 0) this.scheduleLoop();
  };

  /** The loop stops before an event a `block` output has no room for, until it has. */
  private block(output: Output): void {
    this.blockedOn = output;
    this.holds.hold(output.name, 'room');
    output.whenRoom().then(
      () => {
        if (this.blockedOn !== output) return;
        this.unblock();
        this.scheduleLoop();
      },
      () => {},
    );
  }

  private unblock(): void {
    if (!this.blockedOn) return;
    this.holds.release(this.blockedOn.name, 'room');
    this.blockedOn = null;
  }

  /** The `block` output without room that wants `event`, if any. */
  private blockerFor(event: RecorderEvent): Output | null {
    for (const slot of this.blockSlots) {
      if (slot.output.hasRoom()) continue;
      if (passes(slot.filter, event, slot.filter.minSeverity === null ? 0 : severityRankOf(event))) {
        return slot.output;
      }
    }
    return null;
  }

  /**
   * Starts a commit round when events were handed on since the last one and someone waits
   * for them; one at a time, so what arrives meanwhile rides the next round.
   */
  private commitRound(): void {
    if (this.committing || !this.acks.waiting) return;
    const upTo = this.handed;
    if (upTo <= this.durableUpTo) return;
    const outputs = [...this.touched];
    this.touched.clear();
    if (outputs.length === 0) {
      this.finishRound(upTo, true);
      return;
    }
    this.committing = true;
    Promise.all(outputs.map((o) => o.committed())).then(
      (results) => {
        this.committing = false;
        this.finishRound(upTo, results.every(Boolean));
      },
      (err: unknown) => {
        // committed() never rejects by contract; a bug must not leave requests hanging.
        this.committing = false;
        this.logger.error('commit round failed', { err });
        this.finishRound(upTo, false);
      },
    );
  }

  private finishRound(upTo: number, ok: boolean): void {
    TRACE?.mark(MARK.settled, upTo);
    this.durableUpTo = upTo;
    this.acks.settleUpTo(upTo, ok ? 'written' : 'lost');
    this.commitRound();
  }

  /**
   * Parsers only accept what JSON.stringify can write, so a failure here is a bug; it must
   * still be counted, not escape to the loop's catch and leave the event lost uncounted.
   */
  private serialize(event: RecorderEvent): Buffer | null {
    try {
      return serializeEvent(event);
    } catch (err) {
      this.droppedUnserializable.inc();
      this.logger.error('event could not be serialized; dropped', { id: event.id, type: event.type, err });
      return null;
    }
  }

  /** Hands up to `max` events on; false when a `block` output without room stopped it. */
  private processBatch(max: number, force: boolean): boolean {
    const slots = this.slots;
    const blocking = this.blockSlots.length > 0;
    if (blocking) for (const slot of this.blockSlots) this.touched.add(slot.output);
    for (let i = 0; i < max; i++) {
      if (blocking && !force) {
        const next = this.queue.peek();
        if (next === undefined) return true;
        const blocker = this.blockerFor(next);
        if (blocker) {
          this.block(blocker);
          return false;
        }
      }
      const event = this.queue.shift();
      if (event === undefined) return true;
      this.handed++;
      let line: Buffer | null = null;
      // Looked up once per event, and only when some output filters on severity.
      let rank = -1;
      for (const slot of slots) {
        const filter = slot.filter;
        if (filter.minSeverity !== null && rank < 0) rank = severityRankOf(event);
        if (!passes(filter, event, rank)) continue;
        if (line === null) {
          line = this.serialize(event);
          if (line === null) break;
        }
        try {
          slot.output.send(line, event);
        } catch (err) {
          this.logger.error('output send threw; event lost for this output', {
            output: slot.output.name,
            err,
          });
        }
      }
    }
    return true;
  }
}

const SEVERITY_RANK: ReadonlyMap<string, number> = new Map(SEVERITIES.map((s, i) => [s, i]));

/** Whether an output's filter lets an event through (docs/configuration.md "Filters"). */
export function wants(filter: OutputFilter, event: RecorderEvent): boolean {
  return passes(filter, event, filter.minSeverity === null ? 0 : severityRankOf(event));
}

/** `wants`, with the event's severity rank already looked up (only read when the filter has `minSeverity`). */
function passes(filter: OutputFilter, event: RecorderEvent, severityRank: number): boolean {
  if (filter.eventTypes !== null && !filter.eventTypes.includes(event.type)) return false;
  if (filter.sources !== null && !filter.sources.includes(event.source)) return false;
  if (filter.minSeverity !== null && severityRank < (SEVERITY_RANK.get(filter.minSeverity) ?? 0))
    return false;
  return true;
}

/** The rank of the severity the parser gave the event (never re-derived from `data`). */
function severityRankOf(event: RecorderEvent): number {
  return SEVERITY_RANK.get(event[SEVERITY]) ?? 0;
}
