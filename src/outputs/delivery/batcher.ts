import { performance } from 'node:perf_hooks';
import type { BufferedRecord, DeliveryBuffer } from './buffer.js';

/** One request's worth of records: a retry resends exactly these. */
export interface DeliveryBatch {
  /** Orders batches waiting for a retry (the first record's `seq`; a split batch's parts take fractions of it). */
  readonly order: number;
  readonly records: readonly BufferedRecord[];
  /** Sum of the records' line lengths (JSON + `\n` each). */
  readonly bytes: number;
}

export interface BatchLimits {
  /** At most this many records per batch. */
  readonly maxEvents: number;
  /**
   * At most this many bytes per batch as measured by `sizeOf`, except that the first record
   * always goes, even alone over the limit: an event is never unsendable because of the batch size.
   */
  readonly maxBytes: number;
  /** A partial batch leaves once its oldest record has waited this long (0: at once). */
  readonly flushIntervalMs: number;
  /** What a record costs toward `maxBytes`; default its line length. */
  readonly sizeOf?: (record: BufferedRecord) => number;
}

const lineSize = (record: BufferedRecord): number => record.line.length;

/**
 * Cuts a DeliveryBuffer's records into batches: a batch leaves when it is full (by events or
 * bytes), when its oldest record has waited `flushIntervalMs`, or at once after `flush()`
 * (closing: nothing more is worth waiting for). One batcher serves one output; it reads only
 * when asked for a batch, so records stay in the buffer while every worker is busy.
 */
export class Batcher {
  /** Records read but not yet in a batch (a read returned more than fitted), oldest first. */
  private carry: BufferedRecord[] = [];
  private carryIndex = 0;
  /** performance.now() when the carried records were read. */
  private carryAt = 0;
  /** A read that outlived the batch it was for (the flush interval ended first); the next batch starts with it. */
  private pendingRead: Promise<BufferedRecord[]> | null = null;
  private flushing = false;
  private ended = false;
  private wakeLinger: (() => void) | null = null;
  private readonly sizeOf: (record: BufferedRecord) => number;

  constructor(
    private readonly buffer: DeliveryBuffer,
    private readonly limits: BatchLimits,
  ) {
    this.sizeOf = limits.sizeOf ?? lineSize;
  }

  /** From now on partial batches leave at once (close). */
  flush(): void {
    this.flushing = true;
    this.wakeLinger?.();
  }

  /** The next batch; null once the buffer is closed and nothing is left. */
  async next(): Promise<DeliveryBatch | null> {
    const records: BufferedRecord[] = [];
    let size = 0;
    let firstAt = 0;
    /** Moves carried records into the batch; true when the batch is full. */
    const fromCarry = (): boolean => {
      if (records.length === 0 && this.carryIndex < this.carry.length) firstAt = this.carryAt;
      while (this.carryIndex < this.carry.length) {
        if (records.length >= this.limits.maxEvents) return true;
        const record = this.carry[this.carryIndex] as BufferedRecord;
        const cost = this.sizeOf(record);
        if (records.length > 0 && size + cost > this.limits.maxBytes) return true;
        records.push(record);
        size += cost;
        this.carryIndex++;
      }
      this.carry = [];
      this.carryIndex = 0;
      return records.length >= this.limits.maxEvents || size >= this.limits.maxBytes;
    };

    let full = fromCarry();
    while (!full && !this.ended) {
      let got: BufferedRecord[] | null;
      if (records.length === 0) {
        got = await this.read(records.length, size);
      } else {
        const waitMs = firstAt + this.limits.flushIntervalMs - performance.now();
        if (this.flushing || waitMs <= 0) break;
        got = await this.readWithin(records.length, size, waitMs);
        if (got === null) break;
      }
      if (got.length === 0) {
        this.ended = true;
        break;
      }
      this.carry = got;
      this.carryIndex = 0;
      this.carryAt = performance.now();
      full = fromCarry();
      // A read that returned less than it was allowed found the buffer empty: with no flush
      // interval there is nothing to wait for.
      if (!full && this.limits.flushIntervalMs <= 0) break;
    }
    if (records.length === 0) return null;
    const first = records[0] as BufferedRecord;
    let bytes = 0;
    for (const r of records) bytes += r.line.length;
    return { order: first.seq, records, bytes };
  }

  /** The read in progress, started for what the batch still has room for if none is. */
  private startRead(have: number, size: number): Promise<BufferedRecord[]> {
    this.pendingRead ??= this.buffer.read(
      Math.max(1, this.limits.maxEvents - have),
      Math.max(1, this.limits.maxBytes - size),
    );
    return this.pendingRead;
  }

  private async read(have: number, size: number): Promise<BufferedRecord[]> {
    const read = this.startRead(have, size);
    const got = await read;
    if (this.pendingRead === read) this.pendingRead = null;
    return got;
  }

  /** A read that gives up after `ms` (or at `flush()`); null then, and the read carries over to the next batch. */
  private async readWithin(have: number, size: number, ms: number): Promise<BufferedRecord[] | null> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<null>((resolve) => {
      this.wakeLinger = () => resolve(null);
      timer = setTimeout(() => resolve(null), Math.max(1, Math.ceil(ms)));
    });
    const read = this.startRead(have, size);
    try {
      const got = await Promise.race([read, expired]);
      if (got !== null && this.pendingRead === read) this.pendingRead = null;
      return got;
    } finally {
      clearTimeout(timer);
      this.wakeLinger = null;
    }
  }
}
