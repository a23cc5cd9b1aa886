/**
 * Parses a configured http(s) URL. Its text may hold a password or a token (userinfo, query),
 * possibly from `${VAR}`, so the error never shows the value, only the scheme. `url` is set
 * whenever the text parses (even with a wrong scheme), so a caller can check more of it.
 */
export function parseHttpUrl(text: string): { url: URL | null; error: string | null } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return {
      url: null,
      error: 'must be an absolute http:// or https:// URL (value not shown: it may hold credentials)',
    };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { url, error: `must use http or https, got ${JSON.stringify(url.protocol.slice(0, -1))}` };
  }
  return { url, error: null };
}
