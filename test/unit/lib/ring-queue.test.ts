import { describe, expect, it } from 'vitest';
import { RingQueue } from '../../../src/lib/ring-queue.js';

describe('RingQueue', () => {
  it('is FIFO across many wrap-arounds', () => {
    const q = new RingQueue<number>(3);
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 100; round++) {
      while (q.push(next)) next++;
      out.push(q.shift() as number, q.shift() as number);
    }
    while (q.length > 0) out.push(q.shift() as number);
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
  });

  it('refuses pushes when full and reports length and free', () => {
    const q = new RingQueue<string>(2);
    expect(q.push('a')).toBe(true);
    expect(q.push('b')).toBe(true);
    expect(q.push('c')).toBe(false);
    expect(q.length).toBe(2);
    expect(q.free).toBe(0);
    expect(q.shift()).toBe('a');
    expect(q.free).toBe(1);
    expect(q.peek()).toBe('b');
  });

  it('returns undefined when empty and clears', () => {
    const q = new RingQueue<number>(4);
    expect(q.shift()).toBeUndefined();
    q.push(1);
    q.push(2);
    expect(q.clear()).toBe(2);
    expect(q.length).toBe(0);
  });

  it('rejects a capacity below 1', () => {
    expect(() => new RingQueue(0)).toThrow(RangeError);
  });
});
