/** What every redacted secret becomes in logs, errors and answers. */
export const REDACTED = '<redacted>';

/**
 * A function that replaces every occurrence of the given secrets in a text by `<redacted>`.
 * Empty values and those shorter than `minLength` are ignored (a very short secret would
 * redact ordinary words); the longest go first, so a secret that contains another is removed whole.
 */
export function redactor(
  secrets: Iterable<string | null | undefined>,
  minLength = 1,
): (text: string) => string {
  const active = [...new Set([...secrets].filter((s): s is string => !!s && s.length >= minLength))].sort(
    (a, b) => b.length - a.length,
  );
  if (active.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const secret of active) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  };
}
