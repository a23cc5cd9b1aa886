/**
 * The wait a `Retry-After` header asks for, in milliseconds (RFC 9110 §10.2.3): either
 * delay-seconds or an HTTP-date. `null` when absent or unparseable, so the caller falls
 * back to its own backoff. A date in the past means "now" (0).
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  nowMs: number = Date.now(),
): number | null {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) {
    const seconds = Number(text);
    return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : null;
  }
  // Only the date forms HTTP allows (IMF-fixdate and the two obsolete ones), not whatever Date.parse accepts.
  if (!/^[A-Za-z]{3},? |^[A-Za-z]+day, /.test(text)) return null;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}
