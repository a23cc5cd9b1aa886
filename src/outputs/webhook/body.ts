import { jsonOf } from '../../events/serialize.js';
import type { BufferedRecord } from '../delivery/buffer.js';
import {
  CLOUDEVENTS_BATCH_CONTENT_TYPE,
  httpBinaryHeaders,
  type OutputFormat,
  structuredBatchBody,
  structuredOverhead,
} from '../delivery/cloudevents.js';

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** Size of the JSON array holding `count` bodies of `bytes` in total: brackets and commas. */
export function framedSize(count: number, bytes: number): number {
  return count === 0 ? 2 : bytes + count + 1;
}

/**
 * The batch's lines (JSON + `\n` each) count as much toward `max_bytes` as the JSON array
 * they become, less its closing bracket: a newline per event where the array has a comma
 * or the opening bracket. So the batcher measures lines against `max_bytes - 1`.
 */
export function lineBudget(maxBytes: number): number {
  return Math.max(1, maxBytes - 1);
}

/** The request body: the event JSON alone, or (batching) the events as one JSON array. */
export function requestBody(records: readonly BufferedRecord[], batched: boolean): Buffer {
  const first = records[0];
  if (!batched && records.length === 1 && first) return jsonOf(first.line);
  const parts: Buffer[] = [OPEN];
  let bytes = 0;
  for (const record of records) {
    const json = jsonOf(record.line);
    if (parts.length > 1) parts.push(COMMA);
    parts.push(json);
    bytes += json.length;
  }
  parts.push(CLOSE);
  return Buffer.concat(parts, framedSize(records.length, bytes));
}

export interface WebhookRequest {
  body: Buffer;
  headers: Record<string, string>;
}

/**
 * What one delivery sends, by `format`: `json` posts the event (or, batching, the JSON array
 * of events) with the fixed headers; `cloudevents` posts a single event in binary content mode
 * (`ce-*` headers, the event JSON as body) and a batch in structured batch mode
 * (docs/events.md "CloudEvents").
 */
export class RequestBuilder {
  private readonly batchHeaders: Record<string, string>;

  constructor(
    private readonly format: OutputFormat,
    private readonly batched: boolean,
    private readonly headers: Record<string, string>,
  ) {
    this.batchHeaders = { ...headers, 'content-type': CLOUDEVENTS_BATCH_CONTENT_TYPE };
  }

  /** What a record costs toward `batch.max_bytes` (see lineBudget). */
  sizeOf(record: BufferedRecord): number {
    return this.format === 'cloudevents'
      ? record.line.length + structuredOverhead(record.meta)
      : record.line.length;
  }

  build(records: readonly BufferedRecord[]): WebhookRequest {
    if (this.format !== 'cloudevents')
      return { body: requestBody(records, this.batched), headers: this.headers };
    const first = records[0];
    if (!this.batched && records.length === 1 && first) {
      return { body: jsonOf(first.line), headers: { ...this.headers, ...httpBinaryHeaders(first.meta) } };
    }
    return { body: structuredBatchBody(records), headers: this.batchHeaders };
  }
}
