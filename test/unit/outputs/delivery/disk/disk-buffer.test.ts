import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Logger } from '../../../../../src/log.js';
import { DiskBuffer } from '../../../../../src/outputs/delivery/disk/disk-buffer.js';
import { inspectBuffer } from '../../../../../src/outputs/delivery/disk/inspect.js';
import { BufferLockedError } from '../../../../../src/outputs/delivery/disk/lock.js';
import { tempDir } from '../../../../helpers/daemon.js';
import { waitFor } from '../../../../helpers/wait.js';
import { idOf, line, meta, openBuffer, quietLog, readAll } from './helpers.js';

describe('DiskBuffer', () => {
  it('hands out pushed records in order, keeps unacknowledged ones across a close, forgets acknowledged ones', async () => {
    const dir = await tempDir('cer-disk-');
    const a = openBuffer(dir, { segmentBytes: 4096 });
    for (let i = 0; i < 300; i++) expect(a.push(line(i, 40), meta(i))).toBe(true);
    await a.committed();
    expect(a.length).toBe(300);
    const first = await readAll(a, 120);
    expect(first.map(idOf)).toEqual(Array.from({ length: 120 }, (_, i) => i));
    a.ack(first.slice(0, 100));
    expect(a.length).toBe(200);
    expect(await a.close()).toBe(0);

    const b = openBuffer(dir, { segmentBytes: 4096 });
    expect(b.length).toBe(200);
    const rest = await readAll(b, 200);
    expect(rest.map(idOf)).toEqual(Array.from({ length: 200 }, (_, i) => i + 100));
    // Sequence numbers keep counting across a restart.
    expect(b.push(line(999), meta(999))).toBe(true);
    const [next] = await b.read(10, 1 << 20);
    expect(next?.seq).toBeGreaterThan(rest.at(-1)?.seq ?? 0);
    b.ack([...rest, next as NonNullable<typeof next>]);
    expect(b.length).toBe(0);
    // Acknowledged segments are deleted once the ledger is past them.
    await waitFor(() => readdirSync(dir).filter((f) => f.endsWith('.seg')).length <= 1, {
      what: 'segments freed',
    });
    await b.close();
  });

  it('advances the ledger only past records whose predecessors are acknowledged (out-of-order acks)', async () => {
    const dir = await tempDir('cer-disk-');
    const a = openBuffer(dir);
    for (let i = 0; i < 10; i++) a.push(line(i), meta(i));
    const recs = await readAll(a, 10);
    a.ack(recs.slice(5)); // 5..9 done, 0..4 in flight
    expect(a.length).toBe(5);
    await a.close();
    const b = openBuffer(dir);
    // 0..4 come back; 5..9 may come back too (at-least-once), never fewer.
    const again = await readAll(b, 10);
    expect(again.map(idOf).slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
    await b.close();
  });

  it('refuses a second opener of the same directory, and takes over a lock whose process is gone', async () => {
    const dir = await tempDir('cer-disk-');
    const a = openBuffer(dir);
    expect(() => openBuffer(dir)).toThrow(BufferLockedError);
    await a.close();
    // A lock left by a process that no longer runs (pid 2^22 - 1 is above any default pid_max in use here).
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: 4194303, start: '1' }));
    const b = openBuffer(dir);
    await b.close();
    // A lock held by a live process other than us (our parent) blocks.
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: process.ppid, start: null }));
    expect(() => openBuffer(dir)).toThrow(/locked by another running recorder \(pid \d+\)/);
  });

  it('refuses pushes at max_size and takes them again once acknowledged segments are freed', async () => {
    const dir = await tempDir('cer-disk-');
    const maxBytes = 64 * 1024;
    const a = openBuffer(dir, { maxBytes, segmentBytes: 8192 });
    let accepted = 0;
    while (a.push(line(accepted, 200), meta(accepted))) accepted++;
    expect(a.full).toBe(true);
    await a.committed();
    const dirBytes = readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    expect(dirBytes).toBeLessThanOrEqual(maxBytes);
    a.ack(await readAll(a, accepted));
    await waitFor(() => !a.full, { what: 'room after acks' });
    expect(a.push(line(accepted, 200), meta(accepted))).toBe(true);
    await a.close();
  });

  it('inspection lists pending records, timestamps and damage without taking the lock', async () => {
    const dir = await tempDir('cer-disk-');
    const a = openBuffer(dir, { segmentBytes: 2048 });
    for (let i = 0; i < 40; i++) a.push(line(i, 30), meta(i));
    await a.committed();
    a.ack(await readAll(a, 10));
    await waitFor(async () => (await inspectBuffer(dir)).ackedSeq === 10, { what: 'ledger written' });
    const info = await inspectBuffer(dir);
    expect(info.pending).toBe(30);
    expect(info.lock).toEqual({ pid: process.pid, alive: true });
    expect(info.damage).toEqual([]);
    expect(info.oldestPendingTimestamp).toBe(meta(10).timestamp);
    expect(info.newestPendingTimestamp).toBe(meta(39).timestamp);
    expect(info.bytes).toBe(a.bytes);
    await a.close();
  });

  it('sync: full resolves committed() only after the records are on disk', async () => {
    const dir = await tempDir('cer-disk-');
    const a = new DiskBuffer({
      dir,
      maxBytes: 1 << 20,
      sync: 'full',
      flushIntervalMs: 60_000,
      log: quietLog,
    });
    a.push(line(1), meta(1));
    await a.committed();
    expect((await inspectBuffer(dir)).pending).toBe(1);
    await a.close();
  });
  it('a reader that compacts the in-memory records while a write is in flight loses nothing and marks the right records written', async () => {
    const dir = await tempDir('cer-disk-');
    const errors: string[] = [];
    const a = openBuffer(dir, { log: new Logger('error', (l) => errors.push(l)) });
    for (let i = 0; i < 1500; i++) a.push(line(i), meta(i));
    await a.committed();
    for (let i = 1500; i < 2500; i++) a.push(line(i), meta(i));
    // The write lane starts after this turn: let it take its batch and wait on the disk.
    await new Promise((r) => setImmediate(r));
    // Reading 1300 written records lets the buffer drop them from memory and compact it,
    // which renumbers the records the write in flight holds.
    const taken = await readAll(a, 1300);
    expect(taken.map(idOf)).toEqual(Array.from({ length: 1300 }, (_, i) => i));
    await a.committed();
    a.ack(taken);
    // The rest is on disk with the right records: a new instance reads exactly 1300..2499.
    await a.close();
    const b = openBuffer(dir);
    const rest = await readAll(b, 1200);
    expect(rest.map(idOf)).toEqual(Array.from({ length: 1200 }, (_, i) => i + 1300));
    expect(b.length).toBe(1200);
    await b.close();
    expect(errors).toEqual([]);
  });
});
