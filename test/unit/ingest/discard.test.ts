import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DISCARD_BYTES, DISCARD_MS, discardThenClose } from '../../../src/ingest/discard.js';

/** A request body the test feeds by hand: a real Readable, as IncomingMessage is (which does not destroy itself at its end either). */
function body(): Readable {
  return new Readable({ read() {}, autoDestroy: false });
}

const flushed = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('discardThenClose (after a 413)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('stops reading past the byte bound instead of resetting, and cuts only after the time bound', async () => {
    const req = body();
    const destroy = vi.spyOn(req, 'destroy');
    discardThenClose(req);
    const chunk = Buffer.alloc(64 * 1024);
    for (let sent = 0; sent <= DISCARD_BYTES + chunk.length; sent += chunk.length) req.push(chunk);
    await flushed();
    // A reset here would drop the 413 a client has not read yet: it must only stop reading.
    expect(req.isPaused()).toBe(true);
    expect(destroy).not.toHaveBeenCalled();
    vi.advanceTimersByTime(DISCARD_MS - 1);
    expect(destroy).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(destroy).toHaveBeenCalledTimes(1);
  });

  it('keeps reading (and discarding) below the byte bound, and leaves a body that ended alone', async () => {
    const req = body();
    const destroy = vi.spyOn(req, 'destroy');
    discardThenClose(req);
    req.push(Buffer.alloc(DISCARD_BYTES / 2));
    await flushed();
    expect(req.isPaused()).toBe(false);
    req.push(null);
    await flushed();
    vi.advanceTimersByTime(DISCARD_MS * 2);
    expect(destroy).not.toHaveBeenCalled();
  });
});
