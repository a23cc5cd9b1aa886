import type { RecorderEvent } from '../../src/events/event.js';
import type { Output } from '../../src/outputs/output.js';
import { expectValidEvent } from './schema.js';

export interface CollectingOutputOptions {
  /** Throw from every `send` (an output that breaks the contract), keeping nothing. */
  throwOnSend?: boolean;
  /** Check every line it is sent against the event schema (a failed check throws from `send`). */
  validate?: boolean;
}

/** Test double of an output: always up, takes every event and keeps what it is sent, in order. */
export class CollectingOutput implements Output {
  readonly kind = 'test';
  readonly lines: Buffer[] = [];
  readonly events: RecorderEvent[] = [];

  constructor(
    readonly name = 'collect',
    private readonly opts: CollectingOutputOptions = {},
  ) {}

  start(): void {}

  send(line: Buffer, event: RecorderEvent): boolean {
    if (this.opts.throwOnSend) throw new Error('broken output');
    if (this.opts.validate) expectValidEvent(JSON.parse(line.toString('utf8')));
    this.lines.push(line);
    this.events.push(event);
    return true;
  }

  isUp(): boolean {
    return true;
  }

  pending(): number {
    return 0;
  }

  async close(): Promise<void> {}
}
