import { jsonOf } from '../../events/serialize.js';
import type { BufferedRecord, EventMeta } from './buffer.js';

/**
 * CloudEvents 1.0 for the webhook and Kafka outputs (`format: cloudevents`; the mapping is in
 * docs/events.md "CloudEvents"). The event JSON the write loop serialized is the CloudEvent's
 * `data`, reused byte for byte: binary mode adds headers, structured batch mode wraps each
 * event in an envelope by concatenation. Nothing is encoded a second time.
 */

export const OUTPUT_FORMATS = ['json', 'cloudevents'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const CLOUDEVENTS_SPEC_VERSION = '1.0';
/** Reverse-DNS prefix of `type`: `io.coroot.event_recorder.alert_firing`. */
export const CLOUDEVENTS_TYPE_PREFIX = 'io.coroot.event_recorder.';
/** `datacontenttype`: the data is the event JSON. */
export const EVENT_CONTENT_TYPE = 'application/json';
/** HTTP structured batch mode. */
export const CLOUDEVENTS_BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json';

/** The event's attributes in the order the spec lists them. */
export interface CloudEventAttributes {
  readonly specversion: string;
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time: string;
  readonly subject: string;
}

let lastInstance = '';
let lastSource = 'urn:coroot-event-recorder:';

/**
 * `source`: a URI naming this recorder and the instance that recorded the event (the event's
 * own `instance`, so a replayed event keeps its source, and source + id stay unique).
 */
export function cloudEventSource(instance: string): string {
  // Events of one recorder share an instance: keep the last one's source.
  if (instance !== lastInstance) {
    lastInstance = instance;
    lastSource = `urn:coroot-event-recorder:${encodeURIComponent(instance)}`;
  }
  return lastSource;
}

export function cloudEventAttributes(meta: EventMeta): CloudEventAttributes {
  return {
    specversion: CLOUDEVENTS_SPEC_VERSION,
    id: meta.id,
    source: cloudEventSource(meta.instance),
    type: `${CLOUDEVENTS_TYPE_PREFIX}${meta.type}`,
    time: meta.timestamp,
    subject: meta.fingerprint,
  };
}

// HTTP binding 3.1.3.2: space, '"', '%' and anything outside printable ASCII are percent-encoded (UTF-8).
const HEADER_UNSAFE = /[^\x21\x23\x24\x26-\x7e]/gu;

function httpHeaderValue(value: string): string {
  return value.replace(HEADER_UNSAFE, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** HTTP binary content mode: `ce-*` headers and the content type; the body is the event JSON. */
export function httpBinaryHeaders(meta: EventMeta): Record<string, string> {
  const a = cloudEventAttributes(meta);
  return {
    'content-type': EVENT_CONTENT_TYPE,
    'ce-specversion': a.specversion,
    'ce-id': httpHeaderValue(a.id),
    'ce-source': httpHeaderValue(a.source),
    'ce-type': httpHeaderValue(a.type),
    'ce-time': httpHeaderValue(a.time),
    'ce-subject': httpHeaderValue(a.subject),
  };
}

/** Kafka binary content mode: `ce_*` headers and the content type; the value is the event JSON. */
export function kafkaBinaryHeaders(meta: EventMeta): Record<string, string> {
  const a = cloudEventAttributes(meta);
  return {
    'content-type': EVENT_CONTENT_TYPE,
    ce_specversion: a.specversion,
    ce_id: a.id,
    ce_source: a.source,
    ce_type: a.type,
    ce_time: a.time,
    ce_subject: a.subject,
  };
}

/** Bytes the headers add to a Kafka record (names and values). */
export function kafkaHeadersSize(headers: Record<string, string>): number {
  let size = 0;
  for (const [name, value] of Object.entries(headers)) size += name.length + Buffer.byteLength(value);
  return size;
}

/** A structured-mode envelope up to `"data":`; the event JSON and `}` follow. */
function envelopeHead(meta: EventMeta): string {
  const a = cloudEventAttributes(meta);
  return (
    `{"specversion":"${a.specversion}","id":${JSON.stringify(a.id)},"source":${JSON.stringify(a.source)},` +
    `"type":${JSON.stringify(a.type)},"time":${JSON.stringify(a.time)},"subject":${JSON.stringify(a.subject)},` +
    `"datacontenttype":"${EVENT_CONTENT_TYPE}","data":`
  );
}

/**
 * What a record costs in a structured batch beyond its line (JSON + `\n`, the newline
 * standing for the comma or opening bracket): the envelope around it. For `max_bytes`.
 */
export function structuredOverhead(meta: EventMeta): number {
  return Buffer.byteLength(envelopeHead(meta)) + 1;
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE_EVENT = Buffer.from('}');
const CLOSE = Buffer.from(']');

/** HTTP structured batch mode: a JSON array of CloudEvents, each with the event JSON as `data`. */
export function structuredBatchBody(records: readonly BufferedRecord[]): Buffer {
  const parts: Buffer[] = [OPEN];
  let size = 2;
  for (const record of records) {
    if (parts.length > 1) {
      parts.push(COMMA);
      size++;
    }
    const head = Buffer.from(envelopeHead(record.meta), 'utf8');
    const json = jsonOf(record.line);
    parts.push(head, json, CLOSE_EVENT);
    size += head.length + json.length + 1;
  }
  parts.push(CLOSE);
  return Buffer.concat(parts, size);
}
