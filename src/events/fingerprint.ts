import { createHash } from 'node:crypto';

/** First 16 hex chars of SHA-256 of `input` (EVENTS.md: "fingerprint"). */
export function fingerprintOf(input: string): string {
  return createHash('sha256').update(input, 'utf8').digest('hex').slice(0, 16);
}

const FINGERPRINT_RE = /^[0-9a-f]{16}$/;
export function isFingerprint(value: unknown): value is string {
  return typeof value === 'string' && FINGERPRINT_RE.test(value);
}
