import { crc32 } from 'node:zlib';
import type { BufferedRecord, EventMeta } from '../buffer.js';

/**
 * One record in a segment file (docs/architecture.md, "Disk buffers"):
 *
 * ```
 * offset 0   u32 LE  line length
 *        4   u32 LE  CRC32 of bytes 8 .. end (sequence number and line)
 *        8   u32 LE  sequence number, high 32 bits
 *       12   u32 LE  sequence number, low 32 bits
 *       16   line    the serialized event (JSON + "\n")
 * ```
 *
 * The CRC covers the sequence number so a record copied to the wrong place is caught too.
 * A zero-filled tail (a crash after the file grew but before the data reached the disk)
 * reads as length 0, which no valid record has. The EventMeta is not stored: every field of it
 * is a field of the line's event, read back from the JSON when a record comes from the file
 * (a reader that keeps up gets records from memory, with the meta they were pushed with).
 */
export const HEADER_BYTES = 16;
/** Bigger than any event the listener accepts; a larger length is garbage, not a record. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** The shortest line: `{}` and the newline. */
const MIN_LINE_BYTES = 3;

/** Bytes of the record holding `line`. */
export function recordSize(line: Buffer): number {
  return HEADER_BYTES + line.length;
}

/**
 * Writes the record at `offset` of `out`, which must have recordSize(line) bytes free there:
 * the writer encodes a whole batch into one buffer, so a record costs no allocation of its own.
 */
export function encodeRecordInto(out: Buffer, offset: number, seq: number, line: Buffer): void {
  const high = Math.floor(seq / 2 ** 32);
  const low = seq >>> 0;
  out.writeUInt32LE(line.length, offset);
  out.writeUInt32LE(high, offset + 8);
  out.writeUInt32LE(low, offset + 12);
  // TypedArray#set: Buffer#copy's argument handling cost more than the copy of a line.
  out.set(line, offset + HEADER_BYTES);
  // The same CRC as over bytes 8 .. end in one call: the sequence number's 8 bytes here, then
  // zlib continues over the line itself, so no view of `out` is made per record (the call's
  // fixed cost, not the bytes, is most of a record's CRC: docs/operations.md "Disk buffers").
  out.writeUInt32LE(crc32(line, crcOfSeq(high, low)), offset + 4);
}

/** CRC-32 (the zlib polynomial, reflected) of each byte value: 1 KiB, built once. */
const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** zlib's crc32 of the 8 bytes `high` LE, `low` LE, as a running value zlib can continue from. */
function crcOfSeq(high: number, low: number): number {
  let c = -1;
  for (let shift = 0; shift < 32; shift += 8)
    c = (c >>> 8) ^ (CRC_TABLE[(c ^ (high >>> shift)) & 0xff] as number);
  for (let shift = 0; shift < 32; shift += 8)
    c = (c >>> 8) ^ (CRC_TABLE[(c ^ (low >>> shift)) & 0xff] as number);
  return (c ^ -1) >>> 0;
}

/** One record in a buffer of its own (tests, tools). */
export function encodeRecord(seq: number, line: Buffer): Buffer {
  const out = Buffer.allocUnsafe(recordSize(line));
  encodeRecordInto(out, 0, seq, line);
  return out;
}

export type DecodeResult =
  | { readonly kind: 'record'; readonly record: BufferedRecord; readonly size: number }
  /** The buffer ends inside the record; `need` is its full size when the header was readable. */
  | { readonly kind: 'short'; readonly need: number }
  | { readonly kind: 'corrupt'; readonly why: string };

/** Decodes the record at `offset` of `buf` (which holds file bytes up to `buf.length`). */
export function decodeRecord(buf: Buffer, offset: number): DecodeResult {
  const avail = buf.length - offset;
  if (avail < HEADER_BYTES) return { kind: 'short', need: HEADER_BYTES };
  const lineLen = buf.readUInt32LE(offset);
  if (lineLen < MIN_LINE_BYTES || lineLen > MAX_BODY_BYTES) return { kind: 'corrupt', why: 'bad length' };
  const size = HEADER_BYTES + lineLen;
  if (avail < size) return { kind: 'short', need: size };
  const crc = buf.readUInt32LE(offset + 4);
  if (crc32(buf.subarray(offset + 8, offset + size)) !== crc) return { kind: 'corrupt', why: 'bad checksum' };
  const seq = buf.readUInt32LE(offset + 8) * 2 ** 32 + buf.readUInt32LE(offset + 12);
  const lineStart = offset + HEADER_BYTES;
  // A copy, so a record handed to delivery does not pin the whole read-ahead chunk.
  const line = Buffer.from(buf.subarray(lineStart, lineStart + lineLen));
  const meta = metaOfLine(line);
  if (meta === undefined) return { kind: 'corrupt', why: 'not an event' };
  return { kind: 'record', record: { seq, line, meta }, size };
}

/** The EventMeta of a serialized event: its fields, '' for one it lacks; undefined when the line is not a JSON object. */
export function metaOfLine(line: Buffer): EventMeta | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const str = (x: unknown): string => (typeof x === 'string' ? x : '');
  return {
    id: str(o.id),
    type: str(o.type),
    source: str(o.source),
    fingerprint: str(o.fingerprint),
    timestamp: str(o['@timestamp']),
    instance: str(o.instance),
  };
}
