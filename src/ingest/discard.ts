import type { Readable } from 'node:stream';

/**
 * Closing a socket that still has unread request bytes makes the kernel send a reset, which
 * destroys our 413 if the client has not read it yet (the client's kernel drops what it
 * received). So discard what keeps arriving, and past a bound in bytes stop reading instead:
 * TCP flow control then stalls the sender, whose writes stop completing, so even a client that
 * writes in a tight loop turns to reading and finds the answer. The connection is cut only
 * after a bound in time. A reset at the byte bound lost the 413 to such a client in a CI run.
 */
export const DISCARD_BYTES = 4 * 1024 * 1024;
export const DISCARD_MS = 2000;
/** `req` is the IncomingMessage whose answer (413) was sent while its body kept coming. */
export function discardThenClose(req: Readable): void {
  let discarded = 0;
  const timer = setTimeout(() => req.destroy(), DISCARD_MS);
  timer.unref();
  const onData = (chunk: Buffer): void => {
    discarded += chunk.length;
    if (discarded > DISCARD_BYTES) {
      req.off('data', onData);
      req.pause();
    }
  };
  req.on('data', onData);
  req.on('end', () => clearTimeout(timer));
  req.on('close', () => clearTimeout(timer));
  req.resume();
}
