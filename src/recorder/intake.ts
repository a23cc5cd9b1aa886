import type { EventDraft, RecorderEvent } from '../events/event.js';
import type { EventFactory } from '../events/factory.js';
import type { AcceptResult, DraftSink } from '../events/sink.js';
import type { Recorder } from './recorder.js';

/** The recorder's side of DraftSink: stamps drafts with the daemon's EventFactory and queues them, all or none. */
export class DraftIntake implements DraftSink {
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
}
