import { hash, timingSafeEqual } from 'node:crypto';
import type { HttpAuth } from '../config/common.js';

export type AuthResult = { ok: true } | { ok: false; challenge: string };

const REALM = 'coroot-event-recorder';

/**
 * Checks an `Authorization` header against the configured credentials. Both sides are
 * hashed first so the comparison is constant-time whatever the lengths.
 */
export function checkAuth(auth: HttpAuth, header: string | undefined): AuthResult {
  if (auth.basic) {
    const challenge = `Basic realm="${REALM}", charset="UTF-8"`;
    if (!header?.startsWith('Basic ')) return { ok: false, challenge };
    const expected = `${auth.basic.username}:${auth.basic.password}`;
    const given = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    return safeEqual(given, expected) ? { ok: true } : { ok: false, challenge };
  }
  if (auth.bearerToken !== null) {
    const challenge = `Bearer realm="${REALM}"`;
    if (!header?.startsWith('Bearer ')) return { ok: false, challenge };
    return safeEqual(header.slice(7).trim(), auth.bearerToken) ? { ok: true } : { ok: false, challenge };
  }
  return { ok: true };
}

function safeEqual(a: string, b: string): boolean {
  // One-shot hashes, as in events/fingerprint.ts: no Hash object per request.
  return timingSafeEqual(hash('sha256', a, 'buffer'), hash('sha256', b, 'buffer'));
}
