import { hash } from 'node:crypto';
import { copyOf } from '../lib/flat-string.js';

/**
 * First 16 hex chars of SHA-256 of `input` (docs/events.md "Envelope": `fingerprint`). The one-shot
 * `crypto.hash` (Node >= 20.12) is a few times cheaper than a createHash object per event.
 * Fingerprints and dedup keys go into every event's JSON, so not as a slice (lib/flat-string.ts).
 */
export function fingerprintOf(input: string): string {
  return copyOf(hash('sha256', input, 'hex').slice(0, 16));
}

const FINGERPRINT_RE = /^[0-9a-f]{16}$/;
export function isFingerprint(value: unknown): value is string {
  return typeof value === 'string' && FINGERPRINT_RE.test(value);
}
