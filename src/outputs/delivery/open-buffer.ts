import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../../log.js';
import type { BufferedRecord, DeliveryBuffer, EventMeta } from './buffer.js';
import type { BufferConfig } from './buffer-config.js';
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

/**
 * `config` with a memory buffer of the same `max_events` in place of its `buffer:` type: what
 * replay builds a delivering output from (OutputDefinition.replay). A disk buffer's folder
 * belongs to the daemon (locked while it runs, delivered by it after a restart): replay must
 * neither wait for that lock nor leave replayed events behind in it.
 */
export function withMemoryBuffer<C extends { readonly buffer: BufferConfig }>(config: C): C {
  return { ...config, buffer: { ...config.buffer, ...memorySpec(config.buffer.maxEvents) } };
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
 * data_dir makes this throw `BufferLockedError`, which fails start-up with its message. Within
 * this process an output of the same name (a reload) shares the open buffer (openSharedDisk).
 */
export function openDeliveryBuffer(spec: BufferSpec, ctx: BufferContext): DeliveryBuffer {
  if (spec.type === 'memory') return new MemoryBuffer(spec.maxEvents, ctx.memoryBound);
  if (ctx.dataDir === null) throw new Error(`output ${ctx.outputName}: buffer type disk needs data_dir`);
  const dir = bufferDir(ctx.dataDir, ctx.outputName);
  return openSharedDisk(
    dir,
    () =>
      new DiskBuffer({
        dir,
        maxBytes: spec.maxSize,
        sync: spec.sync,
        flushIntervalMs: spec.flushIntervalMs,
        log: ctx.log,
        onCorrupted: ctx.onCorrupted,
      }),
  );
}

/**
 * At start: warn when the disk buffers' `max_size` together exceed the free space of the
 * volume holding `data_dir` (they would meet ENOSPC before their bound).
 */
export function warnIfOversubscribed(dataDir: string, maxSizes: readonly number[], log: Logger): void {
  const total = maxSizes.reduce((a, b) => a + b, 0);
  if (total === 0) return;
  const free = freeBytes(dataDir);
  if (free === null) return;
  if (total > free) {
    log.warn('disk buffers may outgrow the free space of data_dir', {
      data_dir: dataDir,
      max_size_total: total,
      free_bytes: free,
    });
  }
}

/**
 * Free bytes of the volume holding `dir`; on the first start `dir` does not exist yet (the
 * buffers create it), so the nearest existing parent answers for it. Null when none can be read.
 */
function freeBytes(dir: string): number | null {
  for (let d = dir; ; d = dirname(d)) {
    try {
      const fs = statfsSync(d);
      return fs.bavail * fs.bsize;
    } catch {
      if (dirname(d) === d) return null;
    }
  }
}

interface SharedDisk {
  readonly buffer: DiskBuffer;
  /** Leases in opening order; the first one reads, the others wait for their turn. */
  readonly leases: DiskLease[];
}

/** Disk buffers open in this process, by folder. */
const openDisks = new Map<string, SharedDisk>();

/**
 * Opens the disk buffer in `dir`, or shares the one this process has open there. A reload
 * that replaces an output by one of the same name builds the new output while the old one
 * still runs: both get a lease on the same buffer. Both may push (in the write loop's order);
 * only the oldest lease reads. When it closes, the next lease reads from the oldest record
 * not yet acknowledged (what the old output had in flight is sent again: at least once).
 */
function openSharedDisk(dir: string, open: () => DiskBuffer): DeliveryBuffer {
  let shared = openDisks.get(dir);
  if (!shared) {
    shared = { buffer: open(), leases: [] };
    openDisks.set(dir, shared);
  }
  const lease = new DiskLease(shared, () => openDisks.delete(dir));
  shared.leases.push(lease);
  return lease;
}

class DiskLease implements DeliveryBuffer {
  readonly type = 'disk' as const;
  private closed = false;
  private turn: (() => void) | null = null;

  constructor(
    private readonly shared: SharedDisk,
    private readonly onLast: () => void,
  ) {}

  private get reading(): boolean {
    return this.shared.leases[0] === this;
  }

  push(line: Buffer, meta: EventMeta): boolean {
    return !this.closed && this.shared.buffer.push(line, meta);
  }

  get full(): boolean {
    return this.closed || this.shared.buffer.full;
  }

  onRoom(listener: () => void): () => void {
    return this.shared.buffer.onRoom(listener);
  }

  committed(): Promise<void> {
    return this.shared.buffer.committed();
  }

  async read(maxEvents: number, maxBytes: number): Promise<BufferedRecord[]> {
    if (!this.reading && !this.closed) await new Promise<void>((resolve) => (this.turn = resolve));
    if (this.closed) return [];
    return this.shared.buffer.read(maxEvents, maxBytes);
  }

  ack(records: readonly BufferedRecord[]): void {
    this.shared.buffer.ack(records);
  }

  get length(): number {
    return this.shared.buffer.length;
  }

  get bytes(): number {
    return this.shared.buffer.bytes;
  }

  get maxBytes(): number | null {
    return this.shared.buffer.maxBytes;
  }

  /** Why the buffer cannot write now (ENOSPC), or null. */
  get problem(): string | null {
    return this.shared.buffer.problem;
  }

  async close(): Promise<number> {
    if (this.closed) return 0;
    this.closed = true;
    const { leases, buffer } = this.shared;
    const wasReading = this.reading;
    leases.splice(leases.indexOf(this), 1);
    this.turn?.();
    if (leases.length > 0) {
      if (wasReading) {
        buffer.releaseReader();
        leases[0]?.turn?.();
      }
      return 0;
    }
    this.onLast();
    return buffer.close();
  }
}
