import type { EventDraft } from './event.js';

/** What became of drafts handed to a DraftSink. */
export type AcceptResult = 'accepted' | 'queue_full' | 'too_large' | 'stopped';

/**
 * Where ingest hands what it parsed. Ingest produces drafts; the recorder behind this
 * interface stamps each into an event (id, `@timestamp`, instance) and queues it, so ingest
 * depends on this small contract in the lowest layer, never on the recorder.
 */
export interface DraftSink {
  /**
   * All of `drafts` or none, stamped at `now`; never waits. A refusal is not counted as a
   * drop here: the caller decides whether it is retried by its sender (503, next poll).
   */
  acceptAll(drafts: readonly EventDraft[], now?: number): AcceptResult;
}

/** How an acknowledged ingest request ends: its events are durable, some were lost, or it waited too long. */
export type DurableOutcome = 'written' | 'lost' | 'timeout';

/**
 * What the HTTP ingest path needs beyond handing drafts on: room and capacity to refuse early,
 * a `when_full: block` output that cannot write (503 before the body is read), the durability
 * wait behind `acknowledgements: true`, and counting what `on_queue_full: drop` drops.
 * The recorder's DraftIntake implements it (docs/architecture.md).
 */
export interface IngestSink extends DraftSink {
  /** No room for even one event. */
  readonly full: boolean;
  /** The most events one request may carry (the whole queue). */
  readonly capacity: number;
  /** The number of the last event that entered the queue, for `whenDurable`. */
  readonly accepted: number;
  /** A `when_full: block` output that cannot write now, if any (named in the 503). */
  unavailable(): { readonly name: string } | null;
  /** Settles once every event up to `seq` is durable (or lost, or `timeoutMs` passed); null: nothing to wait for. */
  whenDurable(seq: number, timeoutMs: number): Promise<DurableOutcome> | null;
  /** Counts events that were refused and will not be retried by their sender. */
  dropped(reason: 'queue_full' | 'shutdown', n: number): void;
  /** Refreshes the gauges read at scrape time (before `/metrics` answers). */
  updateGauges(): void;
}
