/**
 * The lines of one flush, tracked byte by byte. A partial write (or an error after
 * one) resumes exactly where the kernel stopped, so a line is neither written twice
 * nor split by a second, interleaved write.
 */
export class WriteBatch {
  private lines: Buffer[];
  /** First line not completely written. */
  private head = 0;
  /** Bytes of `lines[head]` already written. */
  private offset = 0;
  private doneEvents = 0;
  private doneBytes = 0;

  constructor(lines: Buffer[]) {
    this.lines = lines;
  }

  /** Lines not completely written yet. */
  get remaining(): number {
    return this.lines.length - this.head;
  }

  /** Adds lines buffered meanwhile, so that retrying after an error is still one writev. */
  append(more: Buffer[]): void {
    if (more.length === 0) return;
    this.lines = this.head === 0 ? this.lines.concat(more) : this.lines.slice(this.head).concat(more);
    this.head = 0;
  }

  /** What is left to write, as the vector for the next writev. */
  unwritten(): Buffer[] {
    if (this.head === 0 && this.offset === 0) return this.lines;
    const rest = this.lines.slice(this.head);
    const first = rest[0];
    if (first && this.offset > 0) rest[0] = first.subarray(this.offset);
    return rest;
  }

  /** Records that the kernel took `bytes` more bytes of this batch. */
  advance(bytes: number): void {
    let left = bytes;
    while (left > 0 && this.head < this.lines.length) {
      const line = this.lines[this.head] as Buffer;
      const need = line.length - this.offset;
      if (left < need) {
        this.offset += left;
        return;
      }
      left -= need;
      this.doneEvents += 1;
      this.doneBytes += line.length;
      this.head += 1;
      this.offset = 0;
    }
  }

  /** Lines completed since the last call (each is accounted exactly once). */
  takeDone(): { events: number; bytes: number } {
    const done = { events: this.doneEvents, bytes: this.doneBytes };
    this.doneEvents = 0;
    this.doneBytes = 0;
    return done;
  }
}
