import type { RecorderEvent } from '../../events/event.js';
import type { DeliveryCore } from './core.js';

/**
 * What every output on the delivery core answers the same way: taking an event, room and
 * acknowledgements come from the core and its buffer; only whether the destination is failing
 * is the output's own (docs/architecture.md "Delivery core").
 */
export abstract class DeliveringOutput {
  protected abstract readonly core: DeliveryCore;

  /** True while the destination itself cannot take deliveries (unreachable, refusing). */
  protected abstract destinationFailing(): boolean;

  send(line: Buffer, event: RecorderEvent): boolean {
    return this.core.offer(line, event);
  }

  hasRoom(): boolean {
    return this.core.hasRoom();
  }

  whenRoom(): Promise<void> {
    return this.core.whenRoom();
  }

  committed(): Promise<boolean> {
    return this.core.committed();
  }

  /** Whether a `block` output holds intake back now. */
  failing(): boolean {
    // A disk buffer keeps taking events while the destination is down (that is its job): it
    // fails only when it cannot write itself.
    if (this.core.buffer.type === 'disk') return this.bufferProblem() !== null;
    return this.destinationFailing();
  }

  bufferProblem(): string | null {
    return this.core.buffer.problem ?? null;
  }

  pending(): number {
    return this.core.pending;
  }

  whenPendingAtMost(atMost: number, signal?: AbortSignal): Promise<boolean> {
    return this.core.whenPendingAtMost(atMost, signal);
  }
}
