import type { RecorderEvent } from './event.js';

const NEWLINE = 0x0a;

/**
 * Serializes once for every output (docs/architecture.md "Rules": serialize once): the JSON followed by `\n`.
 * Outputs that need the bare JSON use `bytes.subarray(0, bytes.length - 1)`, which
 * shares memory instead of copying.
 */
export function serializeEvent(event: RecorderEvent): Buffer {
  const json = JSON.stringify(event);
  const length = Buffer.byteLength(json, 'utf8');
  const bytes = Buffer.allocUnsafe(length + 1);
  bytes.write(json, 0, 'utf8');
  bytes[length] = NEWLINE;
  return bytes;
}

/** The event JSON without the trailing newline (a view, not a copy). */
export function jsonOf(line: Buffer): Buffer {
  return line[line.length - 1] === NEWLINE ? line.subarray(0, line.length - 1) : line;
}
