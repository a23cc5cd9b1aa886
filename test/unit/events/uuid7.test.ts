import { randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventFactory } from '../../../src/events/factory.js';
import { UuidV7Generator, uuidv7 } from '../../../src/events/uuid7.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The 48-bit Unix ms timestamp field. */
function msOf(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/** The 32-bit counter: 12 bits of rand_a, then 20 bits of rand_b after the variant. */
function counterOf(id: string): number {
  const hex = id.replaceAll('-', '');
  const randA = Number.parseInt(hex.slice(13, 16), 16);
  const randB = BigInt(`0x${hex.slice(16)}`) & ((1n << 62n) - 1n);
  return randA * 2 ** 20 + Number(randB >> 42n);
}

describe('UUIDv7 generator', () => {
  it('sets version 7 and the RFC 9562 variant, and encodes the timestamp', () => {
    const gen = new UuidV7Generator();
    for (const ms of [0, 1, 1_700_000_000_123, 2 ** 48 - 1]) {
      const id = gen.next(ms);
      expect(id).toMatch(UUID_RE);
      expect(msOf(id)).toBe(ms);
    }
  });

  it('is unique and strictly increasing (as text) within one millisecond', () => {
    const gen = new UuidV7Generator();
    const now = Date.now();
    const ids = Array.from({ length: 100_000 }, () => gen.next(now));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id, i) => i === 0 || (ids[i - 1] as string) < id)).toBe(true);
    expect(ids.every((id) => msOf(id) === now)).toBe(true);
    expect(counterOf(ids[1] as string)).toBe(counterOf(ids[0] as string) + 1);
  });

  it('sorts by time across milliseconds and keeps rising when the clock steps back', () => {
    const gen = new UuidV7Generator();
    const clock = [1000, 1000, 1001, 1005, 1003, 1003, 1006];
    const ids = clock.map((ms) => gen.next(ms));
    for (let i = 1; i < ids.length; i++) expect((ids[i - 1] as string) < (ids[i] as string)).toBe(true);
    // The step back reuses the last timestamp instead of going back.
    expect(ids.map(msOf)).toEqual([1000, 1000, 1001, 1005, 1005, 1005, 1006]);
  });

  it('seeds the counter below 2^31 and counts past it unsigned', () => {
    // All-ones randomness seeds the counter at its highest start value, 2^31 - 1.
    const gen = new UuidV7Generator((b) => b.fill(0xff));
    const ids = [gen.next(5000), gen.next(5000), gen.next(5000)];
    expect(ids.map(counterOf)).toEqual([2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1]);
    expect(ids.every((id) => UUID_RE.test(id) && msOf(id) === 5000)).toBe(true);
    expect((ids[0] as string) < (ids[1] as string) && (ids[1] as string) < (ids[2] as string)).toBe(true);
  });

  it('borrows the next millisecond after 2^32 ids in one', () => {
    const gen = new UuidV7Generator((b) => b.fill(0xff));
    const counter = gen as unknown as { counter: number; lastMs: number };
    gen.next(9000);
    counter.counter = 0xffff_fffe;
    const a = gen.next(9000);
    const b = gen.next(9000);
    expect(counterOf(a)).toBe(0xffff_ffff);
    expect(msOf(a)).toBe(9000);
    expect(counterOf(b)).toBe(0);
    expect(msOf(b)).toBe(9001);
    expect(a < b).toBe(true);
  });

  it('refills its random pool and keeps the random tail random', () => {
    let fills = 0;
    const gen = new UuidV7Generator((b) => {
      fills++;
      randomFillSync(b);
    });
    const tails = new Set<string>();
    for (let i = 0; i < 5000; i++) tails.add(gen.next(i).slice(-10));
    expect(fills).toBeGreaterThan(10);
    expect(tails.size).toBe(5000);
  });

  it('is shared by every EventFactory, so ids rise across factories', () => {
    const a = new EventFactory('a');
    const b = new EventFactory('b');
    const draft = {
      source: 'coroot',
      type: 'deployment',
      fingerprint: '0'.repeat(16),
      dedupKey: '0'.repeat(16),
      data: {},
      severity: 'info',
    } as const;
    const now = Date.now();
    const ids = [a.stamp(draft, now).id, b.stamp(draft, now).id, uuidv7(now), a.stamp(draft, now).id];
    for (let i = 1; i < ids.length; i++) expect((ids[i - 1] as string) < (ids[i] as string)).toBe(true);
    expect(a.stamp(draft, now)['@timestamp']).toBe(new Date(now).toISOString());
    expect(a.stamp(draft, now + 1)['@timestamp']).toBe(new Date(now + 1).toISOString());
  });
});
