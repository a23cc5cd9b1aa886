/*
 * Property test of the disk buffer's segment log (docs/architecture.md, "Disk buffers"):
 * random pushes, reads and out-of-order acknowledgements, then a crash (the buffer is
 * abandoned as SIGKILL would leave it) and damage to the files: a segment cut at any byte,
 * flipped bytes, a deleted segment, a lost or garbled ledger. After a restart the buffer is
 * drained and checked against what the files held at the crash:
 * - nothing at or below the ledger is handed out again (when the ledger survived);
 * - every record after the ledger that the damage did not touch is handed out;
 * - records lost to damage in an older segment are counted `corrupted`, exactly; damage in
 *   the newest segment is a torn tail (the crash cut it), truncated at start-up;
 * - nothing committed before the crash is missing from the files;
 * - every record handed out is one the files hold after the damage, with the content pushed
 *   under its sequence number (damage can also undo earlier damage: a byte flipped twice);
 * - the directory never exceeds max_size.
 */
import { readdirSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BufferedRecord } from '../../../../../src/outputs/delivery/buffer.js';
import type { DiskBuffer } from '../../../../../src/outputs/delivery/disk/disk-buffer.js';
import { decodeLedger } from '../../../../../src/outputs/delivery/disk/ledger.js';
import {
  scanSegmentFile,
  segmentFileName,
  segmentFirstSeqs,
} from '../../../../../src/outputs/delivery/disk/segments.js';
import { tempDir } from '../../../../helpers/daemon.js';
import { waitFor } from '../../../../helpers/wait.js';
import { line, meta, openBuffer } from './helpers.js';

const MAX_BYTES = 48 * 1024;

type Op =
  | { kind: 'push'; count: number; pad: number }
  | { kind: 'read'; count: number }
  | { kind: 'ack'; picks: number[] }
  | { kind: 'commit' };

type Damage =
  | { kind: 'none' }
  | { kind: 'cut'; segment: number; at: number }
  | { kind: 'flip'; segment: number; at: number }
  | { kind: 'delete'; segment: number }
  | { kind: 'ledger-lost' }
  | { kind: 'ledger-garbled' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      count: fc.integer({ min: 1, max: 40 }),
      pad: fc.integer({ min: 0, max: 400 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('read' as const), count: fc.integer({ min: 1, max: 30 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('ack' as const),
      picks: fc.array(fc.nat(1000), { maxLength: 30 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('commit' as const) }) },
);

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({
    kind: fc.constant('cut' as const),
    segment: fc.nat(20),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant('flip' as const),
    segment: fc.nat(20),
    at: fc.double({ min: 0, max: 0.999, noNaN: true }),
  }),
  fc.record({ kind: fc.constant('delete' as const), segment: fc.nat(20) }),
  fc.constant({ kind: 'ledger-lost' as const }),
  fc.constant({ kind: 'ledger-garbled' as const }),
);

interface OnDisk {
  seq: number;
  id: string;
  file: string;
  offset: number;
  end: number;
}

async function filesNow(
  dir: string,
): Promise<{ ledger: number | null; segments: number[]; records: OnDisk[] }> {
  let ledger: number | null = null;
  try {
    ledger = decodeLedger(readFileSync(join(dir, 'ledger')))?.seq ?? null;
  } catch {
    ledger = null;
  }
  const segments = segmentFirstSeqs(readdirSync(dir));
  const records: OnDisk[] = [];
  for (const first of segments) {
    const file = segmentFileName(first);
    for await (const item of scanSegmentFile(join(dir, file))) {
      // Damage an earlier epoch made and the ledger has not passed yet: only what precedes it counts.
      if (item.kind === 'corrupt') break;
      records.push({
        seq: item.record.seq,
        id: item.record.meta.id,
        file,
        offset: item.offset,
        end: item.offset + item.size,
      });
    }
  }
  return { ledger, segments, records };
}

function dirBytes(dir: string): number {
  // A segment may be deleted between the listing and its stat (the buffer frees space meanwhile).
  return readdirSync(dir).reduce(
    (sum, f) => sum + (statSync(join(dir, f), { throwIfNoEntry: false })?.size ?? 0),
    0,
  );
}

function within<T>(p: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`stalled: ${what}`)), 5000)),
  ]);
}

/**
 * read() waits until a record exists (src/outputs/delivery/buffer.ts). A read that finds only
 * damaged records counts them lost and goes on waiting for the next push, so `length` can
 * fall to 0 under a read still pending: drain stops there and the next read takes that one
 * over (a second read would queue behind it) instead of treating it as stalled.
 */
const pendingReads = new WeakMap<DiskBuffer, Promise<BufferedRecord[]>>();

function readNext(buf: DiskBuffer, maxEvents: number, maxBytes: number): Promise<BufferedRecord[]> {
  const pending = pendingReads.get(buf) ?? buf.read(maxEvents, maxBytes);
  pendingReads.set(buf, pending);
  void pending.then(() => {
    if (pendingReads.get(buf) === pending) pendingReads.delete(buf);
  });
  return pending;
}

async function drain(buf: DiskBuffer): Promise<BufferedRecord[]> {
  const out: BufferedRecord[] = [];
  while (buf.length > 0) {
    let answered = false;
    const read = readNext(buf, 37, 16 * 1024).then((records) => {
      answered = true;
      return records;
    });
    const left = buf.length;
    const emptied = waitFor(() => answered || buf.length === 0, {
      timeoutMs: 5000,
      what: `a read to answer (length ${left})`,
    }).then(() => null);
    const got = await Promise.race([read, emptied]);
    answered = true;
    if (got === null) break; // what was left was damaged and is counted; the read still waits
    out.push(...got);
    buf.ack(got);
  }
  return out;
}

describe('disk buffer segment log under crashes and damage', () => {
  it('replays exactly what the damage left, counts what it took, stays within max_size', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.array(opArb, { minLength: 1, maxLength: 25 }), damageArb), {
          minLength: 1,
          maxLength: 3,
        }),
        async (epochs) => {
          const dir = await tempDir('cer-prop-');
          let corrupted = 0;
          const open = () =>
            openBuffer(dir, {
              maxBytes: MAX_BYTES,
              segmentBytes: 2048,
              onCorrupted: (n) => (corrupted += n),
            });
          let buf = open();
          let n = 0;
          // Every accepted record's id by its sequence number, over all epochs: the ground truth.
          const truth = new Map<number, string>();
          for (const [ops, damage] of epochs) {
            const outstanding: BufferedRecord[] = [];
            const committed = new Set<string>();
            const acked = new Set<string>();
            const pushed: string[] = [];
            for (const op of ops) {
              if (op.kind === 'push') {
                for (let i = 0; i < op.count; i++, n++) {
                  const seq = buf.nextSequence;
                  if (buf.push(line(n, op.pad), meta(n))) {
                    pushed.push(meta(n).id);
                    truth.set(seq, meta(n).id);
                  }
                }
              } else if (op.kind === 'read') {
                if (buf.length - outstanding.length > 0)
                  outstanding.push(
                    ...(await within(readNext(buf, op.count, 8 * 1024), `read, length ${buf.length}`)),
                  );
              } else if (op.kind === 'ack') {
                const acks: BufferedRecord[] = [];
                for (const p of op.picks) {
                  if (outstanding.length === 0) break;
                  acks.push(...outstanding.splice(p % outstanding.length, 1));
                }
                buf.ack(acks);
                for (const r of acks) acked.add(r.meta.id);
              } else {
                const before = [...pushed];
                await within(buf.committed(), 'committed');
                for (const id of before) committed.add(id);
              }
              expect(dirBytes(dir)).toBeLessThanOrEqual(MAX_BYTES);
            }
            await within(buf.crashForTest(), 'crash');
            const atCrash = await filesNow(dir);
            const ledger = atCrash.ledger ?? 0;
            // Committed and not acknowledged: on disk (an acknowledged one may be freed).
            const inFiles = new Set(atCrash.records.map((r) => r.id));
            for (const id of committed) {
              if (!acked.has(id)) expect(inFiles.has(id), `committed ${id} lost`).toBe(true);
            }

            // Damage, and what it destroys.
            const segs = atCrash.segments;
            const tailFile = segs.length > 0 ? segmentFileName(segs.at(-1) as number) : null;
            const destroyed = new Set<number>();
            let countedExpected = true;
            let ledgerKept = true;
            if (
              (damage.kind === 'cut' || damage.kind === 'flip' || damage.kind === 'delete') &&
              segs.length > 0
            ) {
              const file = segmentFileName(segs[damage.segment % segs.length] as number);
              const path = join(dir, file);
              const size = statSync(path).size;
              if (damage.kind === 'delete') {
                if (file !== tailFile) {
                  unlinkSync(path);
                  for (const r of atCrash.records) if (r.file === file) destroyed.add(r.seq);
                }
              } else if (size > 0) {
                const at = Math.min(size - 1, Math.floor(damage.at * size));
                if (damage.kind === 'cut') truncateSync(path, at);
                else {
                  const bytes = readFileSync(path);
                  bytes[at] = (bytes[at] as number) ^ 0xff;
                  writeFileSync(path, bytes);
                }
                for (const r of atCrash.records) if (r.file === file && r.end > at) destroyed.add(r.seq);
                // The newest segment: a torn tail, truncated at start-up and not counted.
                if (file === tailFile) countedExpected = false;
              }
            } else if (damage.kind === 'ledger-lost') {
              unlinkSync(join(dir, 'ledger'));
              ledgerKept = false;
            } else if (damage.kind === 'ledger-garbled') {
              writeFileSync(join(dir, 'ledger'), Buffer.alloc(600, 0x5a));
              ledgerKept = false;
            }
            // Without a ledger the restart replays from the oldest segment's name, not from its
            // first readable record: an oldest segment unreadable from byte 0 (an earlier flip the
            // ledger has not passed) is replayed, found corrupt and counted again.
            const effectiveLedger = ledgerKept ? ledger : (segs[0] ?? 1) - 1;
            // What the restart can read. Usually a subset of atCrash, but damage can repair too:
            // a flip of a byte an earlier epoch flipped makes readable again the records the
            // scan at the crash stopped before (and which the ledger has not passed yet).
            const afterDamage = new Map((await filesNow(dir)).records.map((r) => [r.seq, r.id]));

            corrupted = 0;
            buf = open();
            const delivered = await drain(buf);
            const deliveredSeqs = new Set(delivered.map((r) => r.seq));
            if (ledgerKept)
              for (const r of delivered) expect(r.seq, 'replayed past the ledger').toBeGreaterThan(ledger);
            for (const r of atCrash.records) {
              if (r.seq > effectiveLedger && !destroyed.has(r.seq)) {
                expect(deliveredSeqs.has(r.seq), `record ${r.seq} (${r.id}) not replayed`).toBe(true);
              }
            }
            for (const r of delivered) {
              expect(afterDamage.get(r.seq), `record ${r.seq} not in the files yet replayed`).toBe(r.meta.id);
              expect(truth.get(r.seq), `record ${r.seq} replayed with other content`).toBe(r.meta.id);
            }
            // Exact books: every sequence number between the ledger and the next one is
            // delivered or counted (a gap left by a loss an earlier process counted but whose
            // ledger update the crash prevented is counted again: each process counts what it saw).
            let unaccounted = 0;
            for (let s = effectiveLedger + 1; s < buf.nextSequence; s++)
              if (!deliveredSeqs.has(s)) unaccounted++;
            expect(corrupted).toBe(unaccounted);
            // Damage to older segments is counted, damage to the newest is a torn tail.
            if (!countedExpected) {
              for (const s of destroyed)
                expect(s >= buf.nextSequence || s <= effectiveLedger, `torn ${s} reused`).toBe(true);
            }
            expect(dirBytes(dir)).toBeLessThanOrEqual(MAX_BYTES);
          }
          await buf.close();
        },
      ),
      {
        endOnFailure: true,
        numRuns: Number(process.env.PROP_RUNS ?? 60),
        ...(process.env.PROP_EXAMPLE ? { examples: [JSON.parse(process.env.PROP_EXAMPLE)], numRuns: 1 } : {}),
      },
    );
  }, 240_000);

  // The counterexample behind the model's after-damage scan: epoch 1 flips byte 0 of a middle
  // segment, epoch 2 flips the same byte back. The scan at epoch 2's crash stops at that byte,
  // yet the restart reads the segment whole again and must hand out its records unchanged.
  it('replays a segment that a second flip repaired, with the content pushed', async () => {
    const dir = await tempDir('cer-prop-');
    let corrupted = 0;
    const open = () =>
      openBuffer(dir, { maxBytes: MAX_BYTES, segmentBytes: 2048, onCorrupted: (c) => (corrupted += c) });
    const flipFirstByte = (file: string) => {
      const bytes = readFileSync(join(dir, file));
      bytes[0] = (bytes[0] as number) ^ 0xff;
      writeFileSync(join(dir, file), bytes);
    };
    let buf = open();
    for (let n = 0; n < 20; n++) expect(buf.push(line(n, 300), meta(n))).toBe(true);
    await within(buf.committed(), 'committed');
    await within(buf.crashForTest(), 'crash');
    const segs = segmentFirstSeqs(readdirSync(dir));
    expect(segs.length).toBeGreaterThanOrEqual(3);
    const middle = segmentFileName(segs[1] as number);
    const inMiddle = (await filesNow(dir)).records.filter((r) => r.file === middle).map((r) => r.seq);
    expect(inMiddle.length).toBeGreaterThan(0);
    flipFirstByte(middle);

    // Epoch 2: the damaged segment is counted lost; nothing is acknowledged, the ledger stays at 0.
    buf = open();
    const seen: BufferedRecord[] = [];
    while (seen.length + corrupted < 20) seen.push(...(await within(readNext(buf, 50, 64 * 1024), 'read')));
    expect(corrupted).toBe(inMiddle.length);
    expect(seen.map((r) => r.seq).some((s) => inMiddle.includes(s))).toBe(false);
    await within(buf.crashForTest(), 'crash');
    const atCrash = await filesNow(dir);
    expect(atCrash.ledger).toBe(0);
    expect(atCrash.records.some((r) => r.file === middle)).toBe(false);
    flipFirstByte(middle);

    corrupted = 0;
    buf = open();
    const delivered = await drain(buf);
    expect(corrupted).toBe(0);
    expect(delivered.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    for (const r of delivered) expect(r.meta.id).toBe(meta(r.seq - 1).id);
    await buf.close();
  });
});
