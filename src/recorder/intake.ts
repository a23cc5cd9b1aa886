import type { EventDraft, RecorderEvent } from '../events/event.js';
import type { EventFactory } from '../events/factory.js';
import type { AcceptResult, DurableOutcome, IngestSink } from '../events/sink.js';
import type { Recorder } from './recorder.js';

/**
 * The recorder's side of DraftSink and IngestSink: stamps drafts with the daemon's EventFactory
 * and queues them, all or none; the rest passes through to the recorder.
 */
export class DraftIntake implements IngestSink {
  constructor(
    private readonly recorder: Recorder,
    private readonly factory: EventFactory,
  ) {}

  acceptAll(drafts: readonly EventDraft[], now: number = Date.now()): AcceptResult {
    const events: RecorderEvent[] = new Array(drafts.length);
    for (let i = 0; i < drafts.length; i++) events[i] = this.factory.stamp(drafts[i] as EventDraft, now);
    return this.recorder.recordAll(events);
  }

  /** One draft the daemon itself produced (lifecycle events): queued, or counted as dropped. */
  record(draft: EventDraft): boolean {
    return this.recorder.record(this.factory.stamp(draft));
  }

  get full(): boolean {
    return this.recorder.full;
  }

  get capacity(): number {
    return this.recorder.capacity;
  }

  get accepted(): number {
    return this.recorder.accepted;
  }

  unavailable(): { readonly name: string } | null {
    return this.recorder.unavailable();
  }

  whenDurable(seq: number, timeoutMs: number): Promise<DurableOutcome> | null {
    return this.recorder.whenDurable(seq, timeoutMs);
  }

  dropped(reason: 'queue_full' | 'shutdown', n: number): void {
    this.recorder.dropped(reason, n);
  }

  updateGauges(): void {
    this.recorder.updateGauges();
  }
}
