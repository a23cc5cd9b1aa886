/**
 * Fixed-capacity FIFO on a preallocated array: push and shift are O(1) and allocate
 * nothing (docs/architecture.md "Rules": never `Array.shift`, which is O(n)).
 */
export class RingQueue<T> {
  private readonly slots: Array<T | undefined>;
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be an integer >= 1');
    this.slots = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  get free(): number {
    return this.capacity - this.count;
  }

  /** False (and nothing stored) when full. */
  push(item: T): boolean {
    if (this.count === this.capacity) return false;
    let tail = this.head + this.count;
    if (tail >= this.capacity) tail -= this.capacity;
    this.slots[tail] = item;
    this.count++;
    return true;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.head];
    // Release the reference so a drained event can be collected.
    this.slots[this.head] = undefined;
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.count--;
    return item;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.slots[this.head];
  }

  /** Removes everything; returns how many items were dropped. */
  clear(): number {
    const n = this.count;
    while (this.count > 0) this.shift();
    return n;
  }
}
