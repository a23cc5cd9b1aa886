import { randomFillSync } from 'node:crypto';

/**
 * UUIDv7 ids (RFC 9562) for events, built for the ingest hot path.
 *
 * Randomness comes from a pool filled by one `randomFillSync` call per few hundred ids:
 * asking the CSPRNG for 16 bytes per id (what the `uuid` package does) cost more than the
 * rest of an event's stamping. The text is written into a fixed 36-byte buffer and read
 * back with one latin1 decode, which gives a flat string: a string concatenated from
 * pieces would be re-flattened when the event is serialized.
 *
 * Layout, with RFC 9562 §6.2 "Method 1" (a dedicated counter) for monotonicity:
 * 48-bit Unix ms | ver 7 | 12 counter bits | var 10 | 20 counter bits, 62 - 20 = 42 random bits.
 * The 32-bit counter starts at a random value below 2^31 each new millisecond (so it cannot
 * be guessed, and has at least 2^31 increments of room) and counts up within the
 * millisecond. On counter overflow, or when the clock steps back, the timestamp field
 * moves on from the last one used instead of the clock, so ids never go backwards.
 */

/** Random bytes one id consumes: 4 for a counter seed, 6 for the tail (2 bits + 5 bytes). */
const BYTES_PER_ID = 10;
/** 4000 bytes: 400 ids per CSPRNG call, small enough to stay in cache. */
const POOL_BYTES = BYTES_PER_ID * 400;

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Where each of the 16 bytes goes in the 36-character text (dashes sit between groups). */
const TEXT_OFFSETS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34] as const;

export type RandomFill = (buffer: Buffer) => void;

export class UuidV7Generator {
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES);
  private poolOffset = POOL_BYTES;
  private readonly text = Buffer.from('00000000-0000-7000-8000-000000000000', 'latin1');
  /** Timestamp field of the last id; -1 before the first. */
  private lastMs = -1;
  private counter = 0;

  /** `fill` is replaceable so tests can drive the counter to its edges. */
  constructor(private readonly fill: RandomFill = randomFillSync) {}

  /** A new id for an event stamped at `nowMs` (Unix ms). */
  next(nowMs: number): string {
    if (this.poolOffset + BYTES_PER_ID > POOL_BYTES) {
      this.fill(this.pool);
      this.poolOffset = 0;
    }
    const pool = this.pool;
    const p = this.poolOffset;
    this.poolOffset = p + BYTES_PER_ID;

    let ms: number;
    if (nowMs > this.lastMs) {
      ms = nowMs;
      this.lastMs = ms;
      this.counter =
        (((pool[p] as number) & 0x7f) << 24) |
        ((pool[p + 1] as number) << 16) |
        ((pool[p + 2] as number) << 8) |
        (pool[p + 3] as number);
    } else {
      this.counter = (this.counter + 1) >>> 0;
      // 2^32 ids in one millisecond (or a clock that stepped back that far): borrow the next one.
      if (this.counter === 0) this.lastMs += 1;
      ms = this.lastMs;
    }
    const counter = this.counter;
    // 48 bits do not fit JS bitwise ops (32-bit): split into the high 32 and low 16.
    const high = Math.floor(ms / 0x10000);
    const low = ms - high * 0x10000;
    this.put(0, high >>> 24);
    this.put(1, (high >>> 16) & 0xff);
    this.put(2, (high >>> 8) & 0xff);
    this.put(3, high & 0xff);
    this.put(4, low >>> 8);
    this.put(5, low & 0xff);
    this.put(6, 0x70 | (counter >>> 28));
    this.put(7, (counter >>> 20) & 0xff);
    this.put(8, 0x80 | ((counter >>> 14) & 0x3f));
    this.put(9, (counter >>> 6) & 0xff);
    this.put(10, ((counter << 2) & 0xfc) | ((pool[p + 4] as number) & 0x03));
    this.put(11, pool[p + 5] as number);
    this.put(12, pool[p + 6] as number);
    this.put(13, pool[p + 7] as number);
    this.put(14, pool[p + 8] as number);
    this.put(15, pool[p + 9] as number);
    return this.text.toString('latin1', 0, 36);
  }

  private put(index: number, byte: number): void {
    const at = TEXT_OFFSETS[index] as number;
    this.text[at] = HEX_DIGITS[byte >>> 4] as number;
    this.text[at + 1] = HEX_DIGITS[byte & 0x0f] as number;
  }
}

/** One generator per process, so ids from every factory are monotonic together. */
const shared = new UuidV7Generator();

export function uuidv7(nowMs: number): string {
  return shared.next(nowMs);
}
