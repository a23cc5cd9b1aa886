import type { IncomingMessage } from 'node:http';

export type BodyResult =
  | { ok: true; body: Buffer }
  | { ok: false; reason: 'too_large' | 'aborted'; bytes: number };

/**
 * Reads a request body up to `limit` bytes. Stops reading the moment the limit is passed
 * (or at once when Content-Length announces more) so an oversized body costs no memory.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const announced = Number(req.headers['content-length']);
  if (Number.isFinite(announced) && announced > limit) {
    return Promise.resolve({ ok: false, reason: 'too_large', bytes: announced });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: BodyResult): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        finish({ ok: false, reason: 'too_large', bytes: size });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      finish({ ok: true, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
    };
    const onError = (): void => finish({ ok: false, reason: 'aborted', bytes: size });
    const onClose = (): void => {
      if (!req.complete) finish({ ok: false, reason: 'aborted', bytes: size });
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** `application/json` and `application/*+json`, any parameters (charset). */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const type = (header.split(';', 1)[0] as string).trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}
