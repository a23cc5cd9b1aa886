import { statfsSync } from 'node:fs';
import type { Logger } from '../../log.js';
import type { DeliveryBuffer } from './buffer.js';
import { bufferDir } from './disk/dir-name.js';
import { DiskBuffer } from './disk/disk-buffer.js';
import { type MemoryBound, MemoryBuffer } from './memory-buffer.js';

/** What the buffer of a delivering output is made of: the output's `buffer:` block. */
export interface BufferSpec {
  readonly type: 'memory' | 'disk';
  readonly maxEvents: number;
  readonly maxSize: number;
  readonly sync: 'normal' | 'full';
  readonly flushIntervalMs: number;
}

/** A memory buffer of `maxEvents` (an output without a `buffer:` block). */
export function memorySpec(maxEvents: number): BufferSpec {
  return { type: 'memory', maxEvents, maxSize: 0, sync: 'normal', flushIntervalMs: 500 };
}

export interface BufferContext {
  /** The top-level `data_dir`; required by `type: disk` (the config check says so at load). */
  readonly dataDir: string | null;
  /** The output's name: secret-free, also its metric label; names the buffer's folder. */
  readonly outputName: string;
  readonly log: Logger;
  /** A disk buffer found records it cannot read: count them `corrupted`. */
  readonly onCorrupted: (count: number) => void;
  /** What a memory buffer's `max_events` bounds (the output type decides). */
  readonly memoryBound: MemoryBound;
}

/**
 * The buffer an output's `buffer:` block asks for. A disk buffer opens (and locks) its folder
 * `<data_dir>/buffers/<output name>/` here, synchronously: a second recorder on the same
 * data_dir makes this throw `BufferLockedError`, which fails start-up with its message.
 */
export function openDeliveryBuffer(spec: BufferSpec, ctx: BufferContext): DeliveryBuffer {
  if (spec.type === 'memory') return new MemoryBuffer(spec.maxEvents, ctx.memoryBound);
  if (ctx.dataDir === null) throw new Error(`output ${ctx.outputName}: buffer type disk needs data_dir`);
  return new DiskBuffer({
    dir: bufferDir(ctx.dataDir, ctx.outputName),
    maxBytes: spec.maxSize,
    sync: spec.sync,
    flushIntervalMs: spec.flushIntervalMs,
    log: ctx.log,
    onCorrupted: ctx.onCorrupted,
  });
}

/**
 * At start: warn when the disk buffers' `max_size` together exceed the free space of the
 * volume holding `data_dir` (they would meet ENOSPC before their bound).
 */
export function warnIfOversubscribed(dataDir: string, maxSizes: readonly number[], log: Logger): void {
  const total = maxSizes.reduce((a, b) => a + b, 0);
  if (total === 0) return;
  let free: number;
  try {
    const fs = statfsSync(dataDir);
    free = fs.bavail * fs.bsize;
  } catch {
    return; // data_dir not there yet: the buffers create it
  }
  if (total > free) {
    log.warn('disk buffers may outgrow the free space of data_dir', {
      data_dir: dataDir,
      max_size_total: total,
      free_bytes: free,
    });
  }
}
