/**
 * The output's own bounded FIFO of request bodies (event JSON). Preallocated parallel
 * arrays: push and shift are O(1) and allocate nothing per event (ARCHITECTURE.md rule 1).
 * It also keeps the total byte count and each entry's arrival time, which batching needs
 * to decide when a batch is full or has waited long enough.
 */
export class BodyQueue {
  private readonly bodies: Array<Buffer | undefined>;
  private readonly arrivals: Float64Array;
  private head = 0;
  private count = 0;
  private totalBytes = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be an integer >= 1');
    this.bodies = new Array<Buffer | undefined>(capacity);
    this.arrivals = new Float64Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Sum of the queued bodies' lengths. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** False (and nothing stored) when full. */
  push(body: Buffer, arrivedAt: number): boolean {
    if (this.full) return false;
    let tail = this.head + this.count;
    if (tail >= this.capacity) tail -= this.capacity;
    this.bodies[tail] = body;
    this.arrivals[tail] = arrivedAt;
    this.count++;
    this.totalBytes += body.length;
    return true;
  }

  /** The oldest body, without removing it. */
  peek(): Buffer | undefined {
    return this.count === 0 ? undefined : this.bodies[this.head];
  }

  /** Arrival time of the oldest body (NaN when empty). */
  headArrival(): number {
    return this.count === 0 ? Number.NaN : (this.arrivals[this.head] as number);
  }

  shift(): Buffer | undefined {
    if (this.count === 0) return undefined;
    const body = this.bodies[this.head] as Buffer;
    // Release the reference so a delivered event can be collected.
    this.bodies[this.head] = undefined;
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.count--;
    this.totalBytes -= body.length;
    return body;
  }

  /** Removes everything; returns how many bodies were dropped. */
  clear(): number {
    const n = this.count;
    while (this.count > 0) this.shift();
    return n;
  }
}
