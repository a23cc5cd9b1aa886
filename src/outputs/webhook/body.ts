import { jsonOf } from '../../events/serialize.js';
import type { BufferedRecord } from '../delivery/buffer.js';

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
