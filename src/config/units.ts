/** Prometheus duration and byte-size syntax (docs/configuration.md "Rules"). */

const DURATION_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const DURATION_UNITS_MS = [365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1];

/** Milliseconds, or null when `text` is not a Prometheus duration ("0" is allowed). */
export function parseDuration(text: string): number | null {
  if (text === '0') return 0;
  if (text === '') return null;
  const m = DURATION_RE.exec(text);
  if (!m) return null;
  let ms = 0;
  for (let i = 0; i < DURATION_UNITS_MS.length; i++) {
    const part = m[i + 1];
    if (part !== undefined) ms += Number(part) * (DURATION_UNITS_MS[i] as number);
  }
  return Number.isSafeInteger(ms) ? ms : null;
}

const SIZE_RE = /^(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/;
const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
};

/** Bytes, or null when `text` is not a size like `1MiB`, `512KiB`, `10MB` or a plain byte count. */
export function parseByteSize(text: string): number | null {
  const m = SIZE_RE.exec(text.trim());
  if (!m) return null;
  const bytes = Number(m[1]) * (SIZE_UNITS[m[2] ?? 'B'] as number);
  return Number.isSafeInteger(bytes) ? bytes : null;
}
