import { parseDuration } from '../config/units.js';
import { EVENT_SOURCES, EVENT_TYPES, type RecorderEvent } from '../events/event.js';

/**
 * Which events of an audit file `replay` sends (docs/operations.md "Replaying the audit
 * trail"): `@timestamp` in [since, until), and the type and source among those named.
 */
export interface Selection {
  /** Epoch ms, inclusive; null = from the first event. */
  sinceMs: number | null;
  /** Epoch ms, exclusive; null = to the last event. */
  untilMs: number | null;
  types: ReadonlySet<string> | null;
  sources: ReadonlySet<string> | null;
}

export interface SelectionFlags {
  since?: string | undefined;
  until?: string | undefined;
  type?: string | undefined;
  source?: string | undefined;
}

export type SelectionResult = { ok: true; selection: Selection } | { ok: false; error: string };

// RFC 3339 date-time: a full date, a time, optional fraction, and a zone (Z or ±hh:mm).
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/**
 * A point in time: an RFC 3339 date-time, or a duration back from `nowMs` (`24h`, `90m`,
 * `1d12h`). Null when it is neither.
 */
export function parseTimeBound(text: string, nowMs: number): number | null {
  if (RFC3339_RE.test(text)) {
    const ms = Date.parse(text.replace(' ', 'T'));
    return Number.isNaN(ms) ? null : ms;
  }
  const back = parseDuration(text);
  return back === null ? null : nowMs - back;
}

/** `a,b , c` → ['a','b','c']; empty items are dropped. */
function commaList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function nameSet(
  flag: string,
  text: string | undefined,
  known: readonly string[],
): { ok: true; set: Set<string> | null } | { ok: false; error: string } {
  if (text === undefined) return { ok: true, set: null };
  const names = commaList(text);
  if (names.length === 0) return { ok: false, error: `--${flag} needs at least one name` };
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    return {
      ok: false,
      error: `--${flag}: unknown ${flag} ${unknown.map((n) => `"${n}"`).join(', ')} (known: ${known.join(', ')})`,
    };
  }
  return { ok: true, set: new Set(names) };
}

export function parseSelection(flags: SelectionFlags, nowMs: number): SelectionResult {
  const bound = (flag: 'since' | 'until'): number | null | string => {
    const text = flags[flag];
    if (text === undefined) return null;
    const ms = parseTimeBound(text, nowMs);
    if (ms === null) {
      return `--${flag} must be an RFC 3339 time (2026-11-21T11:41:44Z) or a duration back from now (24h), got "${text}"`;
    }
    return ms;
  };
  const since = bound('since');
  if (typeof since === 'string') return { ok: false, error: since };
  const until = bound('until');
  if (typeof until === 'string') return { ok: false, error: until };
  if (since !== null && until !== null && since >= until) {
    return { ok: false, error: '--since must be before --until' };
  }
  const types = nameSet('type', flags.type, EVENT_TYPES);
  if (!types.ok) return types;
  const sources = nameSet('source', flags.source, EVENT_SOURCES);
  if (!sources.ok) return sources;
  return { ok: true, selection: { sinceMs: since, untilMs: until, types: types.set, sources: sources.set } };
}

/** Whether the selection takes `event`, whose `@timestamp` is `timestampMs`. */
export function selects(selection: Selection, event: RecorderEvent, timestampMs: number): boolean {
  if (selection.sinceMs !== null && timestampMs < selection.sinceMs) return false;
  if (selection.untilMs !== null && timestampMs >= selection.untilMs) return false;
  if (selection.types !== null && !selection.types.has(event.type)) return false;
  if (selection.sources !== null && !selection.sources.has(event.source)) return false;
  return true;
}
