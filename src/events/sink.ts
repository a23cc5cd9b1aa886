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
