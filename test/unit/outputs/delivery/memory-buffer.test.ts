import { describe, expect, it } from 'vitest';
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
const numbers = (records: readonly { line: Buffer }[]): number[] =>
  records.map((r) => (JSON.parse(r.line.toString()) as { i: number }).i);

describe('MemoryBuffer', () => {
  it('is a bounded FIFO that tracks length and bytes and wraps around', async () => {
    const b = new MemoryBuffer(3);
    let next = 0;
    for (let round = 0; round < 5; round++) {
      expect(b.push(line(next++), meta)).toBe(true);
      expect(b.push(line(next++), meta)).toBe(true);
      expect(b.push(line(next++), meta)).toBe(true);
      expect(b.full).toBe(true);
      expect(b.push(line(99), meta)).toBe(false);
      expect(b.length).toBe(3);
      expect(b.bytes).toBe(line(next - 3).length + line(next - 2).length + line(next - 1).length);
      const first = await b.read(1, Number.POSITIVE_INFINITY);
      expect(numbers(first)).toEqual([next - 3]);
      const rest = await b.read(10, Number.POSITIVE_INFINITY);
      expect(numbers(rest)).toEqual([next - 2, next - 1]);
      // Handed out is still held until acknowledged (`held` bound).
      expect(b.length).toBe(3);
      expect(b.full).toBe(true);
      b.ack(rest);
      b.ack(first);
      expect(b.length).toBe(0);
      expect(b.bytes).toBe(0);
    }
  });

  it('numbers records in push order, strictly increasing', async () => {
    const b = new MemoryBuffer(8);
    for (let i = 0; i < 5; i++) b.push(line(i), meta);
    const got = await b.read(5, Number.POSITIVE_INFINITY);
    expect(got.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
  });

  it('copes with acknowledgements out of order (several workers)', async () => {
    const b = new MemoryBuffer(4);
    for (let i = 0; i < 4; i++) b.push(line(i), meta);
    const a = await b.read(2, Number.POSITIVE_INFINITY);
    const c = await b.read(2, Number.POSITIVE_INFINITY);
    b.ack(c);
    expect(b.length).toBe(2);
    expect(b.push(line(4), meta)).toBe(true);
    expect(b.push(line(5), meta)).toBe(true);
    expect(b.push(line(6), meta)).toBe(false);
    b.ack(a);
    expect(numbers(await b.read(10, Number.POSITIVE_INFINITY))).toEqual([4, 5]);
  });

  it("a 'waiting' bound counts only records no read has handed out", async () => {
    const b = new MemoryBuffer(2, 'waiting');
    b.push(line(0), meta);
    b.push(line(1), meta);
    expect(b.full).toBe(true);
    await b.read(1, Number.POSITIVE_INFINITY);
    expect(b.full).toBe(false);
    expect(b.push(line(2), meta)).toBe(true);
    expect(b.length).toBe(3);
  });

  it('reads at most maxEvents and, after the first, at most maxBytes', async () => {
    const b = new MemoryBuffer(8);
    b.push(line(0, 100), meta);
    b.push(line(1), meta);
    b.push(line(2), meta);
    expect(numbers(await b.read(8, 10))).toEqual([0]);
    expect(numbers(await b.read(8, line(1).length * 2))).toEqual([1, 2]);
  });

  it('a waiting read gets everything pushed in the same turn, and close ends it with []', async () => {
    const b = new MemoryBuffer(8);
    const pending = b.read(8, Number.POSITIVE_INFINITY);
    b.push(line(0), meta);
    b.push(line(1), meta);
    const firstTwo = await pending;
    expect(numbers(firstTwo)).toEqual([0, 1]);
    b.ack(firstTwo);
    const ended = b.read(8, Number.POSITIVE_INFINITY);
    b.push(line(2), meta);
    const [r] = await ended;
    b.push(line(3), meta);
    const waiting = b.read(1, 1);
    await expect(waiting).resolves.toHaveLength(1);
    const last = b.read(1, 1);
    // Everything not acknowledged is discarded and counted: 2 and 3 (r was handed out, not acked).
    expect(r?.seq).toBe(2);
    expect(await b.close()).toBe(2);
    await expect(last).resolves.toEqual([]);
    expect(b.push(line(4), meta)).toBe(false);
    expect(await b.close()).toBe(0);
  });

  it('announces freed room: a held bound at ack, a waiting bound when records are handed out, and at close', async () => {
    const held = new MemoryBuffer(2, 'held');
    let heldCalls = 0;
    const stop = held.onRoom(() => heldCalls++);
    held.push(line(0), meta);
    held.push(line(1), meta);
    expect(held.full).toBe(true);
    const got = await held.read(2, Number.POSITIVE_INFINITY);
    expect(heldCalls).toBe(0); // handed out is still held
    held.ack(got);
    expect(heldCalls).toBe(1);
    expect(held.full).toBe(false);
    stop();
    held.push(line(2), meta);
    held.ack(await held.read(1, Number.POSITIVE_INFINITY));
    expect(heldCalls).toBe(1); // unsubscribed

    const waiting = new MemoryBuffer(1, 'waiting');
    let waitingCalls = 0;
    waiting.onRoom(() => waitingCalls++);
    waiting.push(line(0), meta);
    expect(waiting.full).toBe(true);
    await waiting.read(1, Number.POSITIVE_INFINITY);
    expect(waitingCalls).toBe(1);
    expect(waiting.full).toBe(false);
    await waiting.close();
    expect(waitingCalls).toBe(2);
  });
});
