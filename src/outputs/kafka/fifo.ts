/**
 * A fixed-capacity FIFO on a preallocated array: push and shift are O(1) and allocate
 * nothing, so `send` stays O(1) (ARCHITECTURE.md rule 1: never `Array.shift`).
 */
export class Fifo<T> {
  private readonly slots: Array<T | undefined>;
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.slots = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  /** False (nothing stored) when full. */
  push(item: T): boolean {
    if (this.count === this.capacity) return false;
    let tail = this.head + this.count;
    if (tail >= this.capacity) tail -= this.capacity;
    this.slots[tail] = item;
    this.count++;
    return true;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.slots[this.head];
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.count--;
    return item;
  }
}
