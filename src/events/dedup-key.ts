import { randomBytes } from 'node:crypto';
import type { EventSource, EventType } from './event.js';
import { fingerprintOf } from './fingerprint.js';

/**
 * An envelope's `dedup_key` (docs/events.md): 16 hex of SHA-256 over what the sender
 * meant. `content` must leave out what differs between two deliveries of one
 * notification (an Alertmanager peer's external URL) and keep everything else.
 */
export function dedupKeyOf(source: EventSource, type: EventType, content: string): string {
  return fingerprintOf(`dedup/${source}/${type}/${content}`);
}

/** For events nothing can duplicate (the daemon's own): a random key, unique in practice. */
export function uniqueDedupKey(): string {
  return randomBytes(8).toString('hex');
}
