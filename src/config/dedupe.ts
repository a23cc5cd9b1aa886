import type { MapReader } from './reader.js';

/** Top-level `dedupe` (docs/configuration.md): one record per notification however often it arrives. */
export interface DedupeConfig {
  /** How long a recorded notification's copies are recognized; 0 keeps every copy. */
  windowMs: number;
  /** Bound on remembered notifications (memory); the oldest is forgotten first. */
  maxEntries: number;
}

export const DEDUPE_DEFAULTS: DedupeConfig = { windowMs: 5 * 60_000, maxEntries: 100_000 };

export const DEDUPE_KEYS = ['window', 'max_entries'] as const;

export function readDedupe(root: MapReader): DedupeConfig {
  const m = root.map('dedupe', DEDUPE_KEYS);
  if (!m) return DEDUPE_DEFAULTS;
  return {
    windowMs: m.duration('window', DEDUPE_DEFAULTS.windowMs),
    // About 100 bytes each: the default bound is ~10 MB.
    maxEntries: m.int('max_entries', DEDUPE_DEFAULTS.maxEntries, { min: 1, max: 10_000_000 }),
  };
}
