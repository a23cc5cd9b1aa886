import type { BufferedRecord, DeliveryBuffer, EventMeta } from './buffer.js';
import { RoomListeners } from './room.js';

/**
 * What `capacity` bounds. `held`: every record not yet acknowledged (waiting, in flight,
 * retrying; Kafka's `buffer_size`). `waiting`: only records no `read` has handed out yet
 * (the webhook's `queue_size`, whose in-flight events are bounded by its workers instead).
 */
export type MemoryBound = 'held' | 'waiting';

interface PendingRead {
  maxEvents: number;
  maxBytes: number;
  resolve(records: BufferedRecord[]): void;
}

/**
 * The in-memory DeliveryBuffer: a preallocated ring of the records no `read` has handed out
 * yet, plus counters for those handed out and not yet acknowledged. `push` is O(1) and
 * allocates only the record. A read hands records out of the ring at once, so `ack` only
 * subtracts: acknowledgements in any order (several webhook workers) cost nothing, and a
 * slow first batch never holds slots that later, finished ones freed.
 */
export class MemoryBuffer implements DeliveryBuffer {
  readonly type = 'memory';
  readonly maxBytes = null;

  private readonly slots: Array<BufferedRecord | undefined>;
  private head = 0;
  private waiting = 0;
  private waitingBytes = 0;
  private handedOut = 0;
  private handedOutBytes = 0;
  private nextSeq = 0;
  private closed = false;
  private readonly readers: PendingRead[] = [];
  private wakeScheduled = false;
  private readonly room = new RoomListeners();

  constructor(
    readonly capacity: number,
    private readonly bound: MemoryBound = 'held',
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be an integer >= 1');
    this.slots = new Array<BufferedRecord | undefined>(capacity);
  }

  get full(): boolean {
    if (this.closed) return true;
    return (this.bound === 'held' ? this.waiting + this.handedOut : this.waiting) >= this.capacity;
  }

  get length(): number {
    return this.waiting + this.handedOut;
  }

  onRoom(listener: () => void): () => void {
    return this.room.add(listener);
  }

  get bytes(): number {
    return this.waitingBytes + this.handedOutBytes;
  }

  push(line: Buffer, meta: EventMeta): boolean {
    if (this.full) return false;
    let tail = this.head + this.waiting;
    if (tail >= this.capacity) tail -= this.capacity;
    this.slots[tail] = { seq: this.nextSeq++, line, meta };
    this.waiting++;
    this.waitingBytes += line.length;
    if (this.readers.length > 0) this.scheduleWake();
    return true;
  }

  /** Memory holds nothing it could make more durable. */
  committed(): Promise<void> {
    return Promise.resolve();
  }

  read(maxEvents: number, maxBytes: number): Promise<BufferedRecord[]> {
    if (this.closed) return Promise.resolve([]);
    if (this.waiting > 0 && this.readers.length === 0) return Promise.resolve(this.take(maxEvents, maxBytes));
    return new Promise((resolve) => {
      this.readers.push({ maxEvents, maxBytes, resolve });
    });
  }

  ack(records: readonly BufferedRecord[]): void {
    for (const record of records) {
      this.handedOut--;
      this.handedOutBytes -= record.line.length;
    }
    // A `held` bound frees its slots here (a `waiting` one did at `take`).
    if (this.bound === 'held' && records.length > 0) this.room.notify();
  }

  close(): Promise<number> {
    if (this.closed) return Promise.resolve(0);
    this.closed = true;
    for (const reader of this.readers.splice(0)) reader.resolve([]);
    const discarded = this.waiting + this.handedOut;
    while (this.waiting > 0) this.shift();
    this.handedOut = 0;
    this.handedOutBytes = 0;
    this.room.notify();
    return Promise.resolve(discarded);
  }

  /**
   * A waiting reader is served in a microtask, not inside `push`: the write loop pushes a
   * whole turn's events synchronously, and they should reach the reader together.
   */
  private scheduleWake(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    queueMicrotask(() => {
      this.wakeScheduled = false;
      while (this.waiting > 0 && this.readers.length > 0) {
        const reader = this.readers.shift() as PendingRead;
        reader.resolve(this.take(reader.maxEvents, reader.maxBytes));
      }
    });
  }

  /** Hands out the oldest waiting records: at least one, then while within both limits. */
  private take(maxEvents: number, maxBytes: number): BufferedRecord[] {
    const out: BufferedRecord[] = [];
    let bytes = 0;
    while (this.waiting > 0 && out.length < maxEvents) {
      const next = this.slots[this.head] as BufferedRecord;
      if (out.length > 0 && bytes + next.line.length > maxBytes) break;
      this.shift();
      out.push(next);
      bytes += next.line.length;
    }
    this.handedOut += out.length;
    this.handedOutBytes += bytes;
    if (this.bound === 'waiting' && out.length > 0) this.room.notify();
    return out;
  }

  private shift(): void {
    const record = this.slots[this.head] as BufferedRecord;
    // Release the reference so a delivered event can be collected.
    this.slots[this.head] = undefined;
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.waiting--;
    this.waitingBytes -= record.line.length;
  }
}
