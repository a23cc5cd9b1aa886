import { crc32 } from 'node:zlib';
import type { BufferedRecord, EventMeta } from '../buffer.js';

/**
 * One record in a segment file (docs/architecture.md, "Disk buffers"):
 *
 * ```
 * offset 0   u32 LE  body length (bytes after the 16-byte header)
 *        4   u32 LE  CRC32 of bytes 8 .. end (sequence number and body)
 *        8   u32 LE  sequence number, high 32 bits
 *       12   u32 LE  sequence number, low 32 bits
 *       16   u32 LE  line length
 *       20   line    the serialized event (JSON + "\n")
 *       ..   meta    the EventMeta as a JSON array of six strings
 * ```
 *
 * The CRC covers the sequence number so a record copied to the wrong place is caught too.
 * A zero-filled tail (a crash after the file grew but before the data reached the disk)
 * reads as length 0, which no valid record has.
 */
export const HEADER_BYTES = 16;
const LINE_LEN_BYTES = 4;
/** Bigger than any event the listener accepts; a larger length is garbage, not a record. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export function encodeRecord(seq: number, line: Buffer, meta: EventMeta): Buffer {
  const metaJson = JSON.stringify([
    meta.id,
    meta.type,
    meta.source,
    meta.fingerprint,
    meta.timestamp,
    meta.instance,
  ]);
  const metaBytes = Buffer.byteLength(metaJson);
  const bodyLen = LINE_LEN_BYTES + line.length + metaBytes;
  const out = Buffer.allocUnsafe(HEADER_BYTES + bodyLen);
  out.writeUInt32LE(bodyLen, 0);
  out.writeUInt32LE(Math.floor(seq / 2 ** 32), 8);
  out.writeUInt32LE(seq >>> 0, 12);
  out.writeUInt32LE(line.length, 16);
  line.copy(out, 20);
  out.write(metaJson, 20 + line.length, 'utf8');
  out.writeUInt32LE(crc32(out.subarray(8)), 4);
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
  const bodyLen = buf.readUInt32LE(offset);
  if (bodyLen < LINE_LEN_BYTES + 2 || bodyLen > MAX_BODY_BYTES) return { kind: 'corrupt', why: 'bad length' };
  const size = HEADER_BYTES + bodyLen;
  if (avail < size) return { kind: 'short', need: size };
  const crc = buf.readUInt32LE(offset + 4);
  if (crc32(buf.subarray(offset + 8, offset + size)) !== crc) return { kind: 'corrupt', why: 'bad checksum' };
  const seq = buf.readUInt32LE(offset + 8) * 2 ** 32 + buf.readUInt32LE(offset + 12);
  const lineLen = buf.readUInt32LE(offset + 16);
  if (lineLen > bodyLen - LINE_LEN_BYTES) return { kind: 'corrupt', why: 'bad line length' };
  const lineStart = offset + 20;
  // A copy, so a record handed to delivery does not pin the whole read-ahead chunk.
  const line = Buffer.from(buf.subarray(lineStart, lineStart + lineLen));
  const meta = parseMeta(buf.toString('utf8', lineStart + lineLen, offset + size));
  if (meta === undefined) return { kind: 'corrupt', why: 'bad metadata' };
  return { kind: 'record', record: { seq, line, meta }, size };
}

function parseMeta(json: string): EventMeta | undefined {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== 6 || !v.every((s) => typeof s === 'string')) return undefined;
  const [id, type, source, fingerprint, timestamp, instance] = v as string[];
  return {
    id: id as string,
    type: type as string,
    source: source as string,
    fingerprint: fingerprint as string,
    timestamp: timestamp as string,
    instance: instance as string,
  };
}
