import { type EventDraft, type RecorderEvent, SEVERITY } from './event.js';
import { uuidv7 } from './uuid7.js';

/** Stamps drafts into events. `instance` is mutable so a reload can change it live. */
export class EventFactory {
  /** Under load many events share a millisecond; formatting the date once per ms is enough. */
  private lastMs = Number.NaN;
  private lastIso = '';

  constructor(public instance: string) {}

  stamp(draft: EventDraft, now: number = Date.now()): RecorderEvent {
    if (now !== this.lastMs) {
      this.lastIso = new Date(now).toISOString();
      this.lastMs = now;
    }
    // Property order is the serialized order: keep it as docs/events.md "Envelope" shows it.
    return {
      '@timestamp': this.lastIso,
      id: uuidv7(now),
      instance: this.instance,
      source: draft.source,
      type: draft.type,
      fingerprint: draft.fingerprint,
      dedup_key: draft.dedupKey,
      data: draft.data,
      [SEVERITY]: draft.severity,
    };
  }
}
