import { v7 as uuidv7 } from 'uuid';
import type { EventDraft, RecorderEvent } from './event.js';

/** Stamps drafts into events. `instance` is mutable so a reload can change it live. */
export class EventFactory {
  constructor(public instance: string) {}

  stamp(draft: EventDraft, now: number = Date.now()): RecorderEvent {
    // Property order is the serialized order: keep it as EVENTS.md shows it.
    return {
      '@timestamp': new Date(now).toISOString(),
      id: uuidv7({ msecs: now }),
      instance: this.instance,
      source: draft.source,
      type: draft.type,
      fingerprint: draft.fingerprint,
      data: draft.data,
    };
  }
}
