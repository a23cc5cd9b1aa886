import type { RecorderEvent } from '../../src/events/event.js';
import type { Output } from '../../src/outputs/output.js';
import { expectValidEvent } from './schema.js';

export interface CollectingOutputOptions {
  /** Throw from every `send` (an output that breaks the contract), keeping nothing. */
  throwOnSend?: boolean;
  /** Check every line it is sent against the event schema (a failed check throws from `send`). */
  validate?: boolean;
  /** `block`: the write loop asks `hasRoom()` (see `room`) and ingest waits for `committed()`. */
  whenFull?: 'block' | 'drop_newest';
}

/** Test double of an output: always up, takes every event and keeps what it is sent, in order. */
export class CollectingOutput implements Output {
  readonly kind = 'test';
  readonly lines: Buffer[] = [];
  readonly events: RecorderEvent[] = [];
  readonly whenFull: 'block' | 'drop_newest';
  /** How many more events `hasRoom()` allows (a `block` output); Infinity: always room. */
  room = Number.POSITIVE_INFINITY;
  private roomWaiters: Array<() => void> = [];

  constructor(
    readonly name = 'collect',
    private readonly opts: CollectingOutputOptions = {},
  ) {
    this.whenFull = opts.whenFull ?? 'drop_newest';
  }

  start(): void {}

  hasRoom(): boolean {
    return this.room > 0;
  }

  whenRoom(): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Gives the output room for `n` more events and wakes a loop waiting for it. */
  makeRoom(n: number): void {
    this.room += n;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  async committed(): Promise<boolean> {
    return true;
  }

  send(line: Buffer, event: RecorderEvent): boolean {
    if (this.opts.throwOnSend) throw new Error('broken output');
    if (this.opts.validate) expectValidEvent(JSON.parse(line.toString('utf8')));
    this.lines.push(line);
    this.events.push(event);
    if (Number.isFinite(this.room)) this.room--;
    return true;
  }

  failing(): boolean {
    return !this.isUp();
  }

  isUp(): boolean {
    return true;
  }

  pending(): number {
    return 0;
  }

  /** Nothing is ever pending here. */
  async whenPendingAtMost(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}
}
