import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

const NEWLINE = 0x0a;
const GZIP_MAGIC = [0x1f, 0x8b] as const;
/** A line longer than this is skipped as malformed instead of being held in memory whole. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;
const READ_CHUNK_BYTES = 256 * 1024;

export type LineItem =
  /** A whole line: its bytes exactly as in the file, `\n` included. */
  | { kind: 'line'; lineNo: number; bytes: Buffer }
  /** A line longer than MAX_LINE_BYTES, skipped. */
  | { kind: 'too_long'; lineNo: number; size: number }
  /** Bytes after the last `\n` (a write cut short, or a file still being written), skipped. */
  | { kind: 'partial'; lineNo: number; size: number };

/** Whether a file starts with the gzip magic bytes (logrotate's `compress` leaves such files, named `.gz`). */
export async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    await fh.close();
  }
}

/**
 * The lines of a JSONL file, plain or gzip-compressed (detected by content, not by name),
 * read in bounded chunks. `onProgress` gets the bytes read from the file so far (compressed
 * bytes for a .gz), for progress against its size on disk. A read or decompression error is
 * thrown after the lines before it.
 */
export async function* readLines(
  path: string,
  onProgress: (fileBytesRead: number) => void = () => {},
): AsyncGenerator<LineItem> {
  const gzip = await isGzip(path);
  const raw = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  let stream: Readable = raw;
  if (gzip) {
    const gunzip = createGunzip();
    raw.on('error', (err) => gunzip.destroy(err));
    stream = raw.pipe(gunzip);
  }
  let lineNo = 0;
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let tooLong = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      onProgress(raw.bytesRead);
      let start = 0;
      for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
        const piece = chunk.subarray(start, nl + 1);
        start = nl + 1;
        lineNo++;
        if (tooLong) {
          yield { kind: 'too_long', lineNo, size: carryBytes + piece.length };
        } else if (carryBytes + piece.length > MAX_LINE_BYTES + 1) {
          yield { kind: 'too_long', lineNo, size: carryBytes + piece.length };
        } else if (carryBytes > 0) {
          yield { kind: 'line', lineNo, bytes: Buffer.concat([...carry, piece]) };
        } else {
          yield { kind: 'line', lineNo, bytes: piece };
        }
        carry = [];
        carryBytes = 0;
        tooLong = false;
      }
      if (start < chunk.length) {
        const rest = chunk.subarray(start);
        carryBytes += rest.length;
        if (!tooLong) carry.push(rest);
        if (carryBytes > MAX_LINE_BYTES + 1) {
          tooLong = true;
          carry = [];
        }
      }
    }
  } finally {
    stream.destroy();
    raw.destroy();
  }
  if (carryBytes > 0) yield { kind: 'partial', lineNo: lineNo + 1, size: carryBytes };
}
