import { describe, expect, it } from 'vitest';
import { Batcher, type BatchLimits } from '../../../../src/outputs/delivery/batcher.js';
import type { EventMeta } from '../../../../src/outputs/delivery/buffer.js';
import { MemoryBuffer } from '../../../../src/outputs/delivery/memory-buffer.js';

const meta: EventMeta = {
  id: 'i',
  type: 'alert_firing',
  source: 'coroot',
  fingerprint: 'f',
  timestamp: 't',
  instance: 'x',
};
const line = (i: number, pad = 0): Buffer => Buffer.from(`${JSON.stringify({ i, pad: 'x'.repeat(pad) })}\n`);

function bufferOf(lines: Buffer[], capacity = 64): MemoryBuffer {
  const b = new MemoryBuffer(capacity);
  for (const l of lines) expect(b.push(l, meta)).toBe(true);
  return b;
}

const sizes = async (batcher: Batcher, n: number): Promise<number[]> => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await batcher.next())?.records.length ?? 0);
  return out;
};

describe('Batcher', () => {
  const cfg: BatchLimits = { maxEvents: 3, maxBytes: 1024, flushIntervalMs: 60_000 };

  it('stops at maxEvents; a full batch leaves without waiting', async () => {
    const batcher = new Batcher(bufferOf([1, 2, 3, 4, 5, 6].map((i) => line(i))), cfg);
    expect(await sizes(batcher, 2)).toEqual([3, 3]);
  });

  it('stops before maxBytes would be exceeded, and sends an oversized record alone', async () => {
    const one = line(1, 40).length;
    const limits = { maxEvents: 100, maxBytes: one * 2, flushIntervalMs: 60_000 };
    const batcher = new Batcher(bufferOf([line(1, 40), line(2, 40), line(3, 40), line(4, 400)]), limits);
    const first = await batcher.next();
    expect(first?.records).toHaveLength(2);
    expect(first?.bytes).toBeLessThanOrEqual(limits.maxBytes);
    expect(first?.order).toBe(0);
    expect(await sizes(batcher, 2)).toEqual([1, 1]);
  });

  it('counts bytes with sizeOf when given', async () => {
    const batcher = new Batcher(bufferOf([1, 2, 3, 4].map((i) => line(i))), {
      maxEvents: 100,
      maxBytes: 250,
      flushIntervalMs: 0,
      sizeOf: () => 100,
    });
    expect(await sizes(batcher, 2)).toEqual([2, 2]);
  });

  it('with no flush interval, sends what is there at once', async () => {
    const batcher = new Batcher(bufferOf([line(1)]), { ...cfg, flushIntervalMs: 0 });
    expect((await batcher.next())?.records).toHaveLength(1);
  });

  it('waits for the flush interval unless the batch fills or flush() is called', async () => {
    const buffer = bufferOf([line(1)]);
    const batcher = new Batcher(buffer, { ...cfg, flushIntervalMs: 50 });
    const started = performance.now();
    expect((await batcher.next())?.records).toHaveLength(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);

    buffer.push(line(2), meta);
    const filling = batcher.next();
    setImmediate(() => {
      buffer.push(line(3), meta);
      buffer.push(line(4), meta);
    });
    expect((await filling)?.records).toHaveLength(3);

    const slow = new Batcher(bufferOf([line(5)]), cfg);
    const partial = slow.next();
    setImmediate(() => slow.flush());
    expect((await partial)?.records).toHaveLength(1);
  });

  it('a record read while the interval ended starts the next batch; null once the buffer closes', async () => {
    const buffer = bufferOf([line(1)]);
    const batcher = new Batcher(buffer, { ...cfg, flushIntervalMs: 20 });
    expect((await batcher.next())?.records).toHaveLength(1);
    const next = batcher.next();
    buffer.push(line(2), meta);
    const batch = await next;
    expect(batch?.records.map((r) => r.seq)).toEqual([1]);
    const last = batcher.next();
    await buffer.close();
    expect(await last).toBeNull();
  });
});
