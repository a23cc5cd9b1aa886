import type { CloudEvent } from 'cloudevents';
import { expect } from 'vitest';
import type { RecorderEvent } from '../../src/events/event.js';

/** The attributes every CloudEvent the recorder sends must carry for `event` (docs/events.md). */
export function expectCloudEventAttributes(ce: CloudEvent<RecorderEvent>, event: RecorderEvent): void {
  expect(ce.validate()).toBe(true);
  expect(ce.specversion).toBe('1.0');
  expect(ce.id).toBe(event.id);
  expect(ce.source).toBe(`urn:coroot-event-recorder:${event.instance}`);
  expect(ce.type).toBe(`io.coroot.event_recorder.${event.type}`);
  expect(ce.time).toBe(event['@timestamp']);
  expect(ce.subject).toBe(event.fingerprint);
  expect(ce.datacontenttype).toBe('application/json');
  // The data is the event's JSON (the in-memory event carries routing symbols besides).
  expect(ce.data).toEqual(JSON.parse(JSON.stringify(event)));
}
