import type { MapReader } from '../../config/reader.js';

/**
 * The `buffer:` block, the same on every output type (docs/configuration.md, "Buffers,
 * back-pressure and acknowledgements"). Vector's vocabulary: `type`, `max_events`,
 * `max_size`, `when_full`.
 */
export const BUFFER_TYPES = ['memory', 'disk'] as const;
export type BufferType = (typeof BUFFER_TYPES)[number];

/**
 * `block`: the output never drops for lack of room; the write loop holds back and ingest
 * answers 503 + Retry-After until it has room. `drop_newest`: the event that finds the buffer
 * full is dropped and counted (`buffer_full`); intake never waits on this output.
 */
export const WHEN_FULL = ['block', 'drop_newest'] as const;
export type WhenFull = (typeof WHEN_FULL)[number];

/** Disk buffers: `normal` fdatasyncs every `flush_interval`; `full` before a batch is acknowledged. */
export const BUFFER_SYNC = ['normal', 'full'] as const;
export type BufferSync = (typeof BUFFER_SYNC)[number];

export interface BufferConfig {
  type: BufferType;
  /** Events held in memory (memory buffer). */
  maxEvents: number;
  /** Bytes of segment files on disk (disk buffer). */
  maxSize: number;
  whenFull: WhenFull;
  sync: BufferSync;
  flushIntervalMs: number;
}

export const BUFFER_KEYS = ['type', 'max_events', 'max_size', 'when_full', 'sync', 'flush_interval'] as const;

/** What differs between output types: the defaults and whether a disk buffer makes sense. */
export interface BufferDefaults {
  maxEvents: number;
  whenFull: WhenFull;
  /** False for the file output: the file is its own durable store. */
  diskAllowed: boolean;
  /**
   * The key this type had before `buffer:`: still in the type's allowed keys so that it is
   * refused with a hint naming the new key rather than as "unknown key" (pre-1.0: no silent aliases).
   */
  retiredKey: 'buffer_size' | 'queue_size';
}

/** Shared by every output type; only `max_events` and `when_full` differ (see each type's defaults). */
export const DISK_BUFFER_DEFAULTS = {
  maxSize: 1024 * 1024 * 1024,
  sync: 'normal' as BufferSync,
  flushIntervalMs: 500,
};

/** The buffer an output type gets without a `buffer:` block. */
export function defaultBufferConfig(defaults: BufferDefaults): BufferConfig {
  return {
    type: 'memory',
    maxEvents: defaults.maxEvents,
    maxSize: DISK_BUFFER_DEFAULTS.maxSize,
    whenFull: defaults.whenFull,
    sync: DISK_BUFFER_DEFAULTS.sync,
    flushIntervalMs: DISK_BUFFER_DEFAULTS.flushIntervalMs,
  };
}

/** Keys only a disk buffer reads: given with `type: memory` they would silently do nothing. */
const DISK_ONLY_KEYS = ['max_size', 'sync', 'flush_interval'] as const;

/**
 * Reads `buffer:` of one output (`m` is the output's mapping).
 */
export function readBufferConfig(m: MapReader, defaults: BufferDefaults): BufferConfig {
  if (m.has(defaults.retiredKey)) {
    m.error(defaults.retiredKey, 'was replaced by buffer.max_events (buffer: { max_events: N })');
  }
  const b = m.map('buffer', BUFFER_KEYS);
  const config = defaultBufferConfig(defaults);
  if (!b) return config;
  config.type = b.oneOf('type', BUFFER_TYPES, 'memory');
  config.maxEvents = b.int('max_events', defaults.maxEvents, { min: 1, max: 16_777_216 });
  config.maxSize = b.byteSize('max_size', DISK_BUFFER_DEFAULTS.maxSize, { min: 1024 * 1024 });
  config.whenFull = b.oneOf('when_full', WHEN_FULL, defaults.whenFull);
  config.sync = b.oneOf('sync', BUFFER_SYNC, DISK_BUFFER_DEFAULTS.sync);
  config.flushIntervalMs = b.duration('flush_interval', DISK_BUFFER_DEFAULTS.flushIntervalMs, { min: 1 });
  if (config.type === 'disk') {
    if (!defaults.diskAllowed) {
      b.error('type', 'disk is not available on a file output (the file itself is durable); use memory');
    }
  } else {
    for (const key of DISK_ONLY_KEYS) {
      if (b.has(key)) b.error(key, 'applies only to type: disk');
    }
  }
  return config;
}

/**
 * `type: disk` keeps its files under `<data_dir>/buffers/<output name>/`: without a
 * `data_dir` there is nowhere to put them. Reported at the output's `buffer` key.
 */
export function checkDataDir(m: MapReader, buffer: BufferConfig, dataDir: string | null): void {
  if (buffer.type === 'disk' && dataDir === null) {
    m.error('buffer', 'type: disk needs the top-level data_dir (where disk buffers live); set data_dir');
  }
}
