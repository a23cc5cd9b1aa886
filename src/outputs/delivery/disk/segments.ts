import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BufferedRecord } from '../buffer.js';
import { decodeRecord } from './record.js';

/**
 * Segment files: `<first sequence number, 20 digits>.seg`. Named by the first record they
 * hold, so names sort in log order and never wrap (2^53 records is beyond any lifetime).
 */
const SEGMENT_RE = /^(\d{20})\.seg$/;

export function segmentFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}.seg`;
}

/** The segment files in `names` (a directory listing) as first sequence numbers, oldest first. */
export function segmentFirstSeqs(names: readonly string[]): number[] {
  const out: number[] = [];
  for (const name of names) {
    const m = SEGMENT_RE.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

export interface DecodedAt {
  readonly record: BufferedRecord;
  /** Offset of the record in its file. */
  readonly offset: number;
  readonly size: number;
}

export interface ChunkResult {
  readonly records: DecodedAt[];
  /** File offset just after the last whole record decoded. */
  readonly next: number;
  /** Set when the bytes at `next` are not a record (bad length or checksum, not an event). */
  readonly corrupt?: string;
  /** The record at `next` is longer than the chunk: read at least this many bytes from `next`. */
  readonly need?: number;
}

/**
 * Decodes whole records from `buf`, which holds the file's bytes from `base` on, stopping
 * after `maxEvents` records or before the record that would take the lines past `maxBytes`
 * (the first record is always taken).
 */
export function decodeChunk(
  buf: Buffer,
  base: number,
  maxEvents = Number.POSITIVE_INFINITY,
  maxBytes = Number.POSITIVE_INFINITY,
): ChunkResult {
  const records: DecodedAt[] = [];
  let pos = 0;
  let lineBytes = 0;
  while (pos < buf.length && records.length < maxEvents) {
    const r = decodeRecord(buf, pos);
    if (r.kind === 'corrupt') return { records, next: base + pos, corrupt: r.why };
    if (r.kind === 'short') return { records, next: base + pos, need: r.need };
    if (records.length > 0 && lineBytes + r.record.line.length > maxBytes) break;
    lineBytes += r.record.line.length;
    records.push({ record: r.record, offset: base + pos, size: r.size });
    pos += r.size;
  }
  return { records, next: base + pos };
}

export type ScanItem =
  | {
      readonly kind: 'record';
      readonly record: BufferedRecord;
      readonly offset: number;
      readonly size: number;
    }
  /** Nothing after `offset` in this file can be read: `why` says what was found there. */
  | { readonly kind: 'corrupt'; readonly offset: number; readonly why: string };

const SCAN_CHUNK = 256 * 1024;

/**
 * Reads one segment file from start to end in bounded chunks (never the whole file at
 * once), yielding each record and, at the first byte that is not a whole valid record,
 * one `corrupt` item. A file that ends inside a record (torn tail) yields `corrupt` too.
 */
export async function* scanSegmentFile(path: string): AsyncGenerator<ScanItem> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    let offset = 0;
    let want = SCAN_CHUNK;
    while (offset < size) {
      const len = Math.min(want, size - offset);
      const buf = Buffer.allocUnsafe(len);
      const { bytesRead } = await fh.read(buf, 0, len, offset);
      const chunk = decodeChunk(buf.subarray(0, bytesRead), offset);
      for (const r of chunk.records) yield { kind: 'record', ...r };
      if (chunk.corrupt !== undefined) {
        yield { kind: 'corrupt', offset: chunk.next, why: chunk.corrupt };
        return;
      }
      if (chunk.records.length === 0) {
        // The record at `offset` is longer than what we read: read it whole, or it is torn.
        const need = chunk.need ?? HEADER_FALLBACK;
        if (offset + need > size || bytesRead < len) {
          yield { kind: 'corrupt', offset, why: 'torn record at end of file' };
          return;
        }
        want = Math.max(need, SCAN_CHUNK);
        continue;
      }
      offset = chunk.next;
      want = SCAN_CHUNK;
    }
  } finally {
    await fh.close();
  }
}

const HEADER_FALLBACK = 16;

export async function listSegments(dir: string): Promise<number[]> {
  return segmentFirstSeqs(await readdir(dir));
}

export function segmentPath(dir: string, firstSeq: number): string {
  return join(dir, segmentFileName(firstSeq));
}
