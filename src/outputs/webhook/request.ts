import { errnoCode } from '../../lib/errno.js';
import { redactor } from '../../lib/redact.js';
import type { WebhookOutputConfig } from './config.js';

/**
 * The fixed headers of every request, built once. Custom headers cannot collide with
 * these: the config rejects reserved names.
 */
export function requestHeaders(config: WebhookOutputConfig, version: string): Record<string, string> {
  const headers: Record<string, string> = {
    ...config.headers,
    'content-type': 'application/json',
    'user-agent': `coroot-event-recorder/${version}`,
  };
  const { basic, bearerToken } = config.auth;
  if (basic) {
    headers.authorization = `Basic ${Buffer.from(`${basic.username}:${basic.password}`, 'utf8').toString('base64')}`;
  } else if (bearerToken !== null) {
    headers.authorization = `Bearer ${bearerToken}`;
  }
  return headers;
}

/** Values shorter than this are not redacted: replacing "1" or "on" would garble messages, and they hide nothing. */
const MIN_SECRET_LENGTH = 4;

/**
 * Removes every credential of the output from text that goes to a log line: error
 * messages come from the network stack and could, in some future version, quote a URL or
 * a header. Cheap enough for failure paths only.
 */
export class Redactor {
  /** Replaces every credential of the output's config in a text bound for a log. */
  readonly redact: (text: string) => string;

  constructor(config: WebhookOutputConfig) {
    const url = new URL(config.url);
    const candidates = [
      url.search.slice(1),
      ...url.searchParams.values(),
      ...Object.values(config.headers),
      config.auth.basic?.password ?? '',
      config.auth.bearerToken ?? '',
      config.auth.basic
        ? Buffer.from(`${config.auth.basic.username}:${config.auth.basic.password}`).toString('base64')
        : '',
    ];
    this.redact = redactor(candidates, MIN_SECRET_LENGTH);
  }

  /** An error as log fields: its message (redacted) and code, never its stack. */
  describe(err: unknown): { err: string; code?: string } {
    if (err instanceof Error) {
      const code = errnoCode(err) ?? errnoCode(err.cause);
      const message = this.redact(err.message || err.name);
      return code ? { err: message, code } : { err: message };
    }
    return { err: this.redact(String(err)) };
  }
}
