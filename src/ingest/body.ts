import type { IncomingMessage } from 'node:http';

export type BodyResult =
  | { ok: true; body: Buffer }
  | { ok: false; reason: 'too_large' | 'aborted'; bytes: number };

/**
 * Reads a request body up to `limit` bytes and calls `done` exactly once. Stops reading
 * the moment the limit is passed (or at once when Content-Length announces more) so an
 * oversized body costs no memory.
 *
 * A callback rather than a promise: this runs once per ingest request, and a promise (with
 * the microtask hop of its await) plus removing four listeners again cost more than the
 * rest of reading a small body. Listeners stay attached after the end and do nothing.
 */
export function readBody(req: IncomingMessage, limit: number, done: (result: BodyResult) => void): void {
  const announced = Number(req.headers['content-length']);
  if (Number.isFinite(announced) && announced > limit) {
    done({ ok: false, reason: 'too_large', bytes: announced });
    return;
  }
  let first: Buffer | null = null;
  let chunks: Buffer[] | null = null;
  let size = 0;
  let finished = false;
  const finish = (result: BodyResult): void => {
    if (finished) return;
    finished = true;
    first = null;
    chunks = null;
    done(result);
  };
  req.on('data', (chunk: Buffer): void => {
    if (finished) return;
    size += chunk.length;
    if (size > limit) {
      req.pause();
      finish({ ok: false, reason: 'too_large', bytes: size });
      return;
    }
    // A small body is almost always one chunk: keep it without an array.
    if (first === null) {
      first = chunk;
    } else {
      chunks ??= [first];
      chunks.push(chunk);
    }
  });
  req.on('end', (): void => {
    if (finished) return;
    const body = chunks !== null ? Buffer.concat(chunks, size) : (first ?? Buffer.alloc(0));
    finish({ ok: true, body });
  });
  req.on('error', (): void => finish({ ok: false, reason: 'aborted', bytes: size }));
  req.on('close', (): void => {
    if (!req.complete) finish({ ok: false, reason: 'aborted', bytes: size });
  });
}

/** `application/json` and `application/*+json`, any parameters (charset). */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  // What every sender we know of sends; spares the split and lower-casing below.
  if (header === 'application/json') return true;
  const type = (header.split(';', 1)[0] as string).trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}
