import { type EventType, type JsonObject, type RecorderEvent, SEVERITY } from '../events/event.js';
import { severityOfStored } from '../events/severity.js';

export type ParsedLine =
  | { ok: true; event: RecorderEvent; timestampMs: number }
  | { ok: false; reason: string };

const ENVELOPE_STRINGS = ['id', 'instance', 'source', 'type', 'fingerprint'] as const;

/**
 * One line of an audit file as an event (docs/events.md "Envelope"). Only the envelope is
 * checked: replay sends the line's bytes as they are, so `data` needs no validation here,
 * but routing, Kafka keys and CloudEvents attributes read the envelope fields.
 */
export function parseEventLine(json: Buffer): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  const record = value as Record<string, unknown>;
  for (const key of ENVELOPE_STRINGS) {
    if (typeof record[key] !== 'string' || record[key] === '') {
      return { ok: false, reason: `no "${key}" string` };
    }
  }
  const timestamp = record['@timestamp'];
  const timestampMs = typeof timestamp === 'string' ? Date.parse(timestamp) : Number.NaN;
  if (Number.isNaN(timestampMs)) return { ok: false, reason: 'no valid "@timestamp"' };
  const data = record.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, reason: 'no "data" object' };
  }
  // The envelope fields are checked above; `data` is JSON by construction. Routing needs the
  // severity the parser gave the event, which the JSON keeps only inside `data`.
  const event = record as unknown as RecorderEvent & { [SEVERITY]: RecorderEvent[typeof SEVERITY] };
  event[SEVERITY] = severityOfStored(record.type as EventType, data as JsonObject);
  return { ok: true, event, timestampMs };
}
