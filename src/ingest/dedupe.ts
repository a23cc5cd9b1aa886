/*
 * One record per notification (docs/configuration.md "dedupe"). Two Alertmanager peers
 * both deliver every notification, and a sender retries one whose answer it never saw;
 * each copy carries the same `dedup_key` (docs/events.md). A copy that arrives within
 * `window` of the recorded one is answered 202 like the first and not recorded again.
 */
import type { DedupeConfig } from '../config/dedupe.js';
import type { EventDraft } from '../events/event.js';
import { copyOf } from '../lib/flat-string.js';
import type { CounterCell } from '../metrics/cells.js';
import type { Metrics } from '../metrics/registry.js';

/** One request's drafts, split: `fresh` to record, `copies` already recorded (or earlier in the request). */
export interface DedupeBatch {
  readonly fresh: EventDraft[];
  /** The Deduper's own copies of the fresh drafts' keys, in the same order (see `keyCopy`). */
  readonly freshKeys: readonly string[];
  readonly copies: number;
  /** Sources of the copies, for the counter; empty when there are none. */
  readonly copySources: readonly string[];
}

const NO_COPIES: readonly string[] = [];

/**
 * Remembers the dedup keys of recorded notifications, oldest first, in a Map (insertion
 * order = time order): a lookup is O(1), and forgetting expired or surplus entries takes
 * them from the front, each entry once. Memory is bounded by `max_entries`.
 */
export class Deduper {
  /** dedup key → when it was recorded (ms). */
  private readonly recorded = new Map<string, number>();
  private readonly cells = new Map<string, CounterCell>();

  constructor(private readonly metrics: Metrics) {}

  get size(): number {
    return this.recorded.size;
  }

  /** Splits a request's drafts; nothing is remembered until `commit` (a 503'd request must count as unseen). */
  select(drafts: EventDraft[], settings: DedupeConfig, now: number): DedupeBatch {
    if (settings.windowMs <= 0) {
      if (this.recorded.size > 0) this.recorded.clear();
      return { fresh: drafts, freshKeys: NO_COPIES, copies: 0, copySources: NO_COPIES };
    }
    let fresh: EventDraft[] | null = null;
    const freshKeys: string[] = [];
    let sources: string[] | null = null;
    // Copies within one request (a Coroot array holding the same object twice).
    const inRequest = drafts.length > 1 ? new Set<string>() : null;
    for (let i = 0; i < drafts.length; i++) {
      const draft = drafts[i] as EventDraft;
      const key = keyCopy(draft.dedupKey);
      const at = this.recorded.get(key);
      const copy = (at !== undefined && now - at < settings.windowMs) || inRequest?.has(key) === true;
      if (copy) {
        fresh ??= drafts.slice(0, i);
        sources ??= [];
        sources.push(draft.source);
      } else {
        fresh?.push(draft);
        freshKeys.push(key);
        inRequest?.add(key);
      }
    }
    if (sources === null) return { fresh: drafts, freshKeys, copies: 0, copySources: NO_COPIES };
    return { fresh: fresh as EventDraft[], freshKeys, copies: sources.length, copySources: sources };
  }

  /** The request's fresh drafts were accepted: remember them, count the copies, forget the stale. */
  commit(batch: DedupeBatch, settings: DedupeConfig, now: number): void {
    if (settings.windowMs <= 0) return;
    for (const key of batch.freshKeys) {
      // Re-inserted, not updated in place, so the Map stays in time order.
      this.recorded.delete(key);
      this.recorded.set(key, now);
    }
    for (const source of batch.copySources) this.cell(source).inc();
    this.forget(settings, now);
  }

  /** Drops entries past the window, then the oldest beyond max_entries. */
  private forget(settings: DedupeConfig, now: number): void {
    for (const [key, at] of this.recorded) {
      if (now - at < settings.windowMs && this.recorded.size <= settings.maxEntries) break;
      this.recorded.delete(key);
    }
  }

  private cell(source: string): CounterCell {
    let cell = this.cells.get(source);
    if (!cell) {
      cell = this.metrics.deduplicatedCell(source);
      this.cells.set(source, cell);
    }
    return cell;
  }
}

/**
 * A copy of a dedup key for the Deduper's Map and Set. Node 26 internalizes a string used as a
 * Map or Set key and turns the string itself into a forwarding ("thin") string, which
 * JSON.stringify's fast path does not take: looked up by the event's own `dedup_key`, every
 * event would serialize about 3 times slower (docs/operations.md "Performance on Node 26").
 */
function keyCopy(key: string): string {
  return copyOf(key);
}
