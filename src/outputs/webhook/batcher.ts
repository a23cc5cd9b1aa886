import type { WebhookBatchConfig } from './config.js';
import type { BodyQueue } from './queue.js';

/** One request's worth of events: a retry resends exactly this body. */
export interface Delivery {
  body: Buffer;
  events: number;
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** Size of the JSON array holding `count` bodies of `bytes` in total: brackets and commas. */
export function framedSize(count: number, bytes: number): number {
  return count === 0 ? 2 : bytes + count + 1;
}

/**
 * When the head of the queue may leave as a batch: a full batch (by events or bytes) is
 * ready at once; a partial one when its oldest event has waited `flushIntervalMs`, or at
 * once when `now` is null (closing: nothing more is coming worth waiting for).
 * Returns 0 when ready, else the milliseconds left to wait.
 */
export function batchWait(queue: BodyQueue, cfg: WebhookBatchConfig, now: number | null): number {
  if (queue.length === 0) return Number.POSITIVE_INFINITY;
  if (now === null) return 0;
  if (queue.length >= cfg.maxEvents) return 0;
  if (framedSize(queue.length, queue.bytes) >= cfg.maxBytes) return 0;
  return Math.max(0, queue.headArrival() + cfg.flushIntervalMs - now);
}

/**
 * Takes up to `maxEvents` bodies whose JSON array fits in `maxBytes` and frames them. The
 * first body is always taken, even alone over `maxBytes`: an event is never unsendable
 * because of the batch size (the receiver may still refuse it, which is then counted).
 */
export function takeBatch(queue: BodyQueue, cfg: WebhookBatchConfig): Delivery {
  const first = queue.shift();
  if (!first) return { body: Buffer.from('[]'), events: 0 };
  const parts: Buffer[] = [OPEN, first];
  let size = framedSize(1, first.length);
  let events = 1;
  for (;;) {
    const next = events < cfg.maxEvents ? queue.peek() : undefined;
    if (!next || size + 1 + next.length > cfg.maxBytes) break;
    queue.shift();
    parts.push(COMMA, next);
    size += 1 + next.length;
    events++;
  }
  parts.push(CLOSE);
  return { body: Buffer.concat(parts, size), events };
}
