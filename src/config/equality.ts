/**
 * Canonical JSON (sorted keys) of a config value: two output configs are equal when
 * their canonical forms are, which is how a reload decides to keep an output running
 * (docs/architecture.md "Rules": keep what did not change). Secrets are part of it on purpose: a changed password must
 * restart the output that uses it.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

export function sameConfig(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
