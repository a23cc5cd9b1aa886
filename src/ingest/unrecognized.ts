/*
 * Bodies that fit none of a sender's known shapes (docs/events.md "unrecognized").
 * A refusal would cost more than it saves: Coroot retries a refused notification every
 * minute for an hour and holds back the ones queued behind it. So the object is kept as
 * sent, with what did not fit, and the operator is told (metric + throttled log).
 */
import { dedupKeyOf } from '../events/dedup-key.js';
import type { EventDraft, JsonObject } from '../events/event.js';
import { fingerprintOf } from '../events/fingerprint.js';
import { copyOf } from '../lib/flat-string.js';
import type { Logger } from '../log.js';
import { type JsonRecord, MAX_EXTRA_DEPTH, nestedTooDeep, PayloadError } from './fields.js';

/**
 * A body JSON.stringify could not write back (it recurses, and overflows the stack a few
 * thousand levels down). Such a body is refused with 400 rather than accepted and lost.
 */
export class TooDeepError extends Error {}

/** The raw object is one level above a custom field, which may itself be MAX_EXTRA_DEPTH deep. */
const MAX_RAW_DEPTH = MAX_EXTRA_DEPTH + 1;

/**
 * @param ignoredKeys top-level keys left out of the dedup key only: those that differ
 *   between two deliveries of one notification (an Alertmanager peer's `externalURL`).
 */
export function unrecognizedDraft(
  source: 'coroot' | 'alertmanager',
  raw: JsonRecord,
  reason: string,
  ignoredKeys: readonly string[] = [],
): EventDraft {
  if (nestedTooDeep(raw, MAX_RAW_DEPTH)) {
    throw new TooDeepError(`JSON nested more than ${MAX_RAW_DEPTH} levels deep cannot be recorded`);
  }
  const text = JSON.stringify(raw);
  let meant = text;
  if (ignoredKeys.some((k) => Object.hasOwn(raw, k))) {
    const copy: { [key: string]: unknown } = Object.create(null);
    for (const key of Object.keys(raw)) if (!ignoredKeys.includes(key)) copy[key] = raw[key];
    meant = JSON.stringify(copy);
  }
  return {
    source,
    type: 'unrecognized',
    fingerprint: fingerprintOf(`unrecognized/${source}/${text}`),
    dedupKey: dedupKeyOf(source, 'unrecognized', meant),
    // Parsed by JSON.parse and checked for depth above: every value is JSON.
    // The reason is built by concatenation: copied flat for the event's JSON (lib/flat-string.ts).
    data: { raw: raw as JsonObject, reason: copyOf(reason) },
    severity: 'unknown',
  };
}

/**
 * Why a body that even `unrecognized` cannot hold is refused: one nested too deep, or (only
 * from code, never from JSON.parse) one whose reading throws.
 */
export function refusal(error: unknown): string {
  if (error instanceof TooDeepError) return error.message;
  return `payload could not be read: ${error instanceof Error ? error.message : 'unknown error'}`;
}

/** What a parser threw, as an `unrecognized` reason; anything but PayloadError is a parser bug, still kept. */
export function reasonOf(error: unknown, prefix = ''): string {
  if (error instanceof PayloadError) return prefix + error.message;
  const detail = error instanceof Error ? error.message : 'unknown error';
  return `${prefix}payload could not be read: ${detail}`;
}

/** At most one log line per endpoint in this long; the lines between are counted in the next. */
const LOG_EVERY_MS = 10_000;

/**
 * "unrecognized payload recorded", throttled per endpoint: a sender stuck on a wrong
 * template would otherwise write one line per notification.
 */
export class UnrecognizedLog {
  private readonly last = new Map<string, { at: number; unlogged: number }>();

  constructor(private readonly logger: Logger) {}

  note(endpoint: string, drafts: readonly EventDraft[], now: number): void {
    for (const draft of drafts) {
      if (draft.type !== 'unrecognized') continue;
      const seen = this.last.get(endpoint);
      if (seen !== undefined && now - seen.at < LOG_EVERY_MS) {
        seen.unlogged++;
        continue;
      }
      this.logger.warn('unrecognized payload recorded', {
        endpoint,
        reason: draft.data.reason,
        fingerprint: draft.fingerprint,
        not_logged_since_last: seen?.unlogged ?? 0,
      });
      this.last.set(endpoint, { at: now, unlogged: 0 });
    }
  }
}
