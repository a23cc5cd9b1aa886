import { closeSync, fdatasync, fdatasyncSync, openSync, readSync, write, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';

/**
 * The ledger: the highest sequence number whose delivery is finished (every record up to
 * it acknowledged). Two 20-byte slots in one small file, 512 bytes apart so they sit in
 * different disk sectors; each write goes to the slot not holding the newest value, with
 * a generation number and a CRC32. A torn write damages only the slot being written, so
 * the other still holds the previous value: the update is atomic without a rename, and
 * it needs no new disk block, so it still works on a full disk (where freeing segments
 * depends on it).
 *
 * Slot: u32 magic "CERL", u32 generation, u32+u32 sequence (high, low), u32 CRC32 of the
 * first 16 bytes.
 */
export const LEDGER_FILE = 'ledger';
const MAGIC = 0x4c524543; // "CERL" little-endian
const SLOT_BYTES = 20;
const SLOT_OFFSETS = [0, 512] as const;
export const LEDGER_FILE_BYTES = 512 + SLOT_BYTES;

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);

export interface LedgerValue {
  readonly seq: number;
  readonly generation: number;
}

export function encodeSlot(value: LedgerValue): Buffer {
  const b = Buffer.alloc(SLOT_BYTES);
  b.writeUInt32LE(MAGIC, 0);
  b.writeUInt32LE(value.generation >>> 0, 4);
  b.writeUInt32LE(Math.floor(value.seq / 2 ** 32), 8);
  b.writeUInt32LE(value.seq >>> 0, 12);
  b.writeUInt32LE(crc32(b.subarray(0, 16)), 16);
  return b;
}

function decodeSlot(b: Buffer): LedgerValue | undefined {
  if (b.length < SLOT_BYTES || b.readUInt32LE(0) !== MAGIC) return undefined;
  if (crc32(b.subarray(0, 16)) !== b.readUInt32LE(16)) return undefined;
  return { generation: b.readUInt32LE(4), seq: b.readUInt32LE(8) * 2 ** 32 + b.readUInt32LE(12) };
}

/** The newest valid slot of a ledger file's bytes, or undefined when neither slot is valid. */
export function decodeLedger(bytes: Buffer): LedgerValue | undefined {
  let best: LedgerValue | undefined;
  for (const off of SLOT_OFFSETS) {
    const v = decodeSlot(bytes.subarray(off, off + SLOT_BYTES));
    // Generations are u32 and a buffer would need 2^32 ledger writes to wrap; compare plainly.
    if (v && (!best || v.generation > best.generation)) best = v;
  }
  return best;
}

export class Ledger {
  private generation: number;
  private closed = false;

  private constructor(
    private readonly fd: number,
    readonly initial: LedgerValue | undefined,
  ) {
    this.generation = initial?.generation ?? 0;
  }

  /**
   * Opens (creating when missing) the ledger in `dir`. `initial` is undefined when the
   * file was missing or neither slot could be read: the caller replays from the oldest
   * segment then (duplicates beat loss).
   */
  static openSync(dir: string): Ledger {
    const path = join(dir, LEDGER_FILE);
    const fd = openSync(path, 'a+');
    // 'a+' creates without truncating; reopen for positioned writes ('a' ignores positions on Linux).
    closeSync(fd);
    const rw = openSync(path, 'r+');
    const bytes = Buffer.alloc(LEDGER_FILE_BYTES);
    const n = readSync(rw, bytes, 0, LEDGER_FILE_BYTES, 0);
    const initial = decodeLedger(bytes.subarray(0, n));
    if (n < LEDGER_FILE_BYTES) {
      // Reserve both slots' blocks now so a later update needs no allocation on a full disk.
      writeSync(rw, Buffer.alloc(LEDGER_FILE_BYTES - n), 0, LEDGER_FILE_BYTES - n, n);
      fdatasyncSync(rw);
    }
    return new Ledger(rw, initial);
  }

  /** Writes `seq` to the older slot and fdatasyncs; resolves once it is on disk. */
  async write(seq: number): Promise<void> {
    if (this.closed) return;
    this.generation += 1;
    const slot = encodeSlot({ seq, generation: this.generation });
    await writeAsync(this.fd, slot, 0, SLOT_BYTES, SLOT_OFFSETS[this.generation % 2]);
    await fdatasyncAsync(this.fd);
  }

  /** The same, synchronously: at start-up only, to record where a new or unreadable ledger begins. */
  writeSync(seq: number): void {
    this.generation += 1;
    writeSync(
      this.fd,
      encodeSlot({ seq, generation: this.generation }),
      0,
      SLOT_BYTES,
      SLOT_OFFSETS[this.generation % 2],
    );
    fdatasyncSync(this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
