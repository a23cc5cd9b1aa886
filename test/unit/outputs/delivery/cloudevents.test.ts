import { type CloudEvent, HTTP, Kafka, type KafkaMessage } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import type { RecorderEvent } from '../../../../src/events/event.js';
import { jsonOf, serializeEvent } from '../../../../src/events/serialize.js';
import type { BufferedRecord } from '../../../../src/outputs/delivery/buffer.js';
import {
  cloudEventAttributes,
  httpBinaryHeaders,
  kafkaBinaryHeaders,
  structuredBatchBody,
  structuredOverhead,
} from '../../../../src/outputs/delivery/cloudevents.js';
import { eventMeta } from '../../../../src/outputs/delivery/core.js';
import { testAlertEvent } from '../../../helpers/events.js';

/** The event as a consumer sees it: its JSON (the in-memory event carries routing symbols besides). */
function asJson(event: RecorderEvent): unknown {
  return JSON.parse(JSON.stringify(event));
}

function record(event: RecorderEvent, seq: number): BufferedRecord {
  return { seq, line: serializeEvent(event), meta: eventMeta(event) };
}

describe('CloudEvents mapping', () => {
  const event = testAlertEvent(1, { instance: 'coroot-event-recorder-0', fingerprint: '9f3c1a7e5b2d4c68' });

  it('maps the envelope onto the attributes', () => {
    expect(cloudEventAttributes(eventMeta(event))).toEqual({
      specversion: '1.0',
      id: event.id,
      source: 'urn:coroot-event-recorder:coroot-event-recorder-0',
      type: 'io.coroot.event_recorder.alert_firing',
      time: event['@timestamp'],
      subject: '9f3c1a7e5b2d4c68',
    });
  });

  it('an instance that is not URI-safe is percent-encoded in source, and again in an HTTP header', () => {
    const odd = testAlertEvent(2, { instance: 'rec 1/é%' });
    expect(cloudEventAttributes(eventMeta(odd)).source).toBe('urn:coroot-event-recorder:rec%201%2F%C3%A9%25');
    // HTTP binding 3.1.3.2: the header value percent-encodes its own '%'.
    expect(httpBinaryHeaders(eventMeta(odd))['ce-source']).toBe(
      'urn:coroot-event-recorder:rec%25201%252F%25C3%25A9%2525',
    );
    expect(kafkaBinaryHeaders(eventMeta(odd)).ce_source).toBe(
      'urn:coroot-event-recorder:rec%201%2F%C3%A9%25',
    );
  });

  it('binary mode over HTTP: the SDK reads the headers and the event JSON as data', () => {
    const line = serializeEvent(event);
    const parsed = HTTP.toEvent({
      headers: httpBinaryHeaders(eventMeta(event)),
      body: jsonOf(line).toString('utf8'),
    }) as CloudEvent<RecorderEvent>;
    expect(parsed.validate()).toBe(true);
    expect(parsed.id).toBe(event.id);
    expect(parsed.type).toBe('io.coroot.event_recorder.alert_firing');
    expect(parsed.subject).toBe(event.fingerprint);
    expect(parsed.datacontenttype).toBe('application/json');
    expect(parsed.data).toEqual(asJson(event));
  });

  it('binary mode over Kafka: the SDK reads the ce_ headers and the value', () => {
    const value = jsonOf(serializeEvent(event));
    // What a kafkajs consumer hands over: key, value and headers (the SDK's type also wants `body`).
    const message: KafkaMessage = {
      key: event.fingerprint,
      value,
      body: value,
      headers: kafkaBinaryHeaders(eventMeta(event)),
    };
    const parsed = Kafka.toEvent(message) as CloudEvent<RecorderEvent>;
    expect(parsed.validate()).toBe(true);
    expect(parsed.source).toBe('urn:coroot-event-recorder:coroot-event-recorder-0');
    expect(parsed.time).toBe(event['@timestamp']);
    expect(parsed.data).toEqual(asJson(event));
  });

  it('structured batch: the event JSON is each envelope’s data byte for byte, and the size is what the batcher counts', () => {
    const events = [1, 2, 3].map((i) => testAlertEvent(i, { instance: i === 2 ? 'other' : 'rec' }));
    const records = events.map((e, i) => record(e, i));
    const body = structuredBatchBody(records);
    // Each event's bytes appear in the body as they were serialized: nothing re-encoded.
    for (const r of records) expect(body.includes(jsonOf(r.line))).toBe(true);
    // sizeOf (line + overhead) per record, plus the closing bracket.
    const counted = records.reduce((sum, r) => sum + r.line.length + structuredOverhead(r.meta), 0);
    expect(body.length).toBe(counted + 1);
    const parsed = HTTP.toEvent({
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: body.toString('utf8'),
    }) as CloudEvent<RecorderEvent>[];
    expect(parsed.map((ce) => ce.data)).toEqual(events.map(asJson));
    expect(parsed.map((ce) => ce.source)).toEqual([
      'urn:coroot-event-recorder:rec',
      'urn:coroot-event-recorder:other',
      'urn:coroot-event-recorder:rec',
    ]);
    for (const ce of parsed) expect(ce.validate()).toBe(true);
  });
});
