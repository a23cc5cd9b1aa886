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
import { RingQueue } from '../lib/ring-queue.js';
import type { Logger } from '../log.js';
import type { CounterCell } from '../metrics/cells.js';
import type { Metrics } from '../metrics/registry.js';
import type { Output } from '../outputs/output.js';

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
/** How long one turn may run before yielding to I/O (ingest, output flushes), however much is queued. */
const LOOP_BUDGET_MS = 10;

/**
 * The bounded queue and its single write loop (docs/architecture.md). `record` is synchronous
 * and O(1); the loop is the only code that touches the set of outputs, and it never
 * waits on one: `Output.send` is non-blocking by contract.
 */
export class Recorder {
  private readonly queue: RingQueue<RecorderEvent>;
  private slots: readonly OutputSlot[] = [];
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
    return previous;
  }

  /** Refuse new events from now on (shutdown); already queued ones are still delivered. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Hands every queued event to the outputs now (used by reload and shutdown). */
  drainNow(): void {
    while (this.queue.length > 0) this.processBatch(this.queue.length);
    this.metrics.queueLength.set(0);
  }

  /** Refreshes gauges that are cheaper to read at scrape time than to keep current. */
  updateGauges(): void {
    this.metrics.queueLength.set(this.queue.length);
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
    if (this.loopScheduled) return;
    this.loopScheduled = true;
    setImmediate(this.runLoop);
  }

  private readonly runLoop = (): void => {
    this.loopScheduled = false;
    try {
      const deadline = performance.now() + LOOP_BUDGET_MS;
      for (let left = this.queue.length; left > 0; left -= LOOP_SLICE) {
        this.processBatch(Math.min(left, LOOP_SLICE));
        if (performance.now() >= deadline) break;
      }
    } catch (err) {
      // An output broke its contract by throwing; the loop must keep going for the others.
      this.logger.error('write loop error', { err });
    }
    this.metrics.queueLength.set(this.queue.length);
    if (this.queue.length > 0) this.scheduleLoop();
  };

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

  private processBatch(max: number): void {
    const slots = this.slots;
    for (let i = 0; i < max; i++) {
      const event = this.queue.shift();
      if (event === undefined) return;
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
