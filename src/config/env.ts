/**
 * `${VAR}` and `${VAR:-default}` expansion inside string values. `$$` stands for a
 * literal `$`. A variable that is unset and has no default is an error rather than an
 * empty string: an empty password or URL would otherwise fail much later and obscurely.
 */
const REF_RE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export type ExpandResult = { ok: true; value: string } | { ok: false; error: string };

export function expandEnv(text: string, env: NodeJS.ProcessEnv): ExpandResult {
  if (!text.includes('$')) return { ok: true, value: text };
  let missing: string | null = null;
  const value = text.replace(REF_RE, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$$') return '$';
    // Own keys only: `${constructor}` must read as unset, not as Object.prototype.constructor.
    const v = Object.hasOwn(env, name as string) ? env[name as string] : undefined;
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    if (v === '') return '';
    missing ??= name as string;
    return '';
  });
  if (missing !== null) {
    return {
      ok: false,
      error: `environment variable ${missing} is not set (use \${${missing}:-default} for a default)`,
    };
  }
  return { ok: true, value };
}
