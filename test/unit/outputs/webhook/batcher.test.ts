import { describe, expect, it } from 'vitest';
import { batchWait, framedSize, takeBatch } from '../../../../src/outputs/webhook/batcher.js';
import type { WebhookBatchConfig } from '../../../../src/outputs/webhook/config.js';
import { BodyQueue } from '../../../../src/outputs/webhook/queue.js';

const body = (i: number, pad = 0): Buffer => Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(pad) }));

function queueOf(bodies: Buffer[], capacity = 64, at = 0): BodyQueue {
  const q = new BodyQueue(capacity);
  for (const b of bodies) expect(q.push(b, at)).toBe(true);
  return q;
}

describe('BodyQueue', () => {
  it('is a bounded FIFO that tracks bytes and wraps around', () => {
    const q = new BodyQueue(3);
    for (let round = 0; round < 5; round++) {
      expect(q.push(body(1), 10)).toBe(true);
      expect(q.push(body(2), 20)).toBe(true);
      expect(q.push(body(3), 30)).toBe(true);
      expect(q.push(body(4), 40)).toBe(false);
      expect(q.length).toBe(3);
      expect(q.bytes).toBe(body(1).length * 3);
      expect(q.headArrival()).toBe(10);
      expect(q.shift()?.toString()).toBe(body(1).toString());
      expect(q.headArrival()).toBe(20);
      expect(q.clear()).toBe(2);
      expect(q.bytes).toBe(0);
      expect(q.shift()).toBeUndefined();
      expect(q.headArrival()).toBeNaN();
    }
  });
});

describe('batching', () => {
  const cfg: WebhookBatchConfig = { maxEvents: 3, maxBytes: 1024, flushIntervalMs: 100 };

  it('frames bodies as one JSON array, byte for byte', () => {
    const bodies = [body(1), body(2)];
    const d = takeBatch(queueOf(bodies), cfg);
    expect(d.events).toBe(2);
    expect(d.body.toString()).toBe(`[${bodies.join(',')}]`);
    expect(JSON.parse(d.body.toString())).toEqual([
      { i: 1, pad: '' },
      { i: 2, pad: '' },
    ]);
    expect(d.body.length).toBe(framedSize(2, bodies[0]!.length + bodies[1]!.length));
  });

  it('stops at max_events', () => {
    const q = queueOf([1, 2, 3, 4, 5].map((i) => body(i)));
    expect(takeBatch(q, cfg).events).toBe(3);
    expect(takeBatch(q, cfg).events).toBe(2);
    expect(q.length).toBe(0);
  });

  it('stops before max_bytes would be exceeded, and sends an oversized event alone', () => {
    const one = body(1, 40).length;
    const small = { maxEvents: 100, maxBytes: framedSize(2, one * 2), flushIntervalMs: 100 };
    const q = queueOf([body(1, 40), body(2, 40), body(3, 40), body(4, 400)]);
    const first = takeBatch(q, small);
    expect(first.events).toBe(2);
    expect(first.body.length).toBeLessThanOrEqual(small.maxBytes);
    expect(takeBatch(q, small).events).toBe(1);
    const big = takeBatch(q, small);
    expect(big.events).toBe(1);
    expect(JSON.parse(big.body.toString())).toHaveLength(1);
  });

  it('waits for flush_interval unless the batch is full or the output is closing', () => {
    const q = queueOf([body(1)], 64, 1000);
    expect(batchWait(q, cfg, 1000)).toBe(100);
    expect(batchWait(q, cfg, 1060)).toBe(40);
    expect(batchWait(q, cfg, 1100)).toBe(0);
    expect(batchWait(q, cfg, null)).toBe(0);
    expect(batchWait(queueOf([body(1), body(2), body(3)], 64, 1000), cfg, 1000)).toBe(0);
    const bytesFull = { ...cfg, maxBytes: framedSize(1, body(1).length) };
    expect(batchWait(queueOf([body(1)], 64, 1000), bytesFull, 1000)).toBe(0);
    expect(batchWait(new BodyQueue(4), cfg, 1000)).toBe(Number.POSITIVE_INFINITY);
  });
});
