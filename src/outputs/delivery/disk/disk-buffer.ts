import {
  close,
  closeSync,
  fdatasync,
  fsync,
  fsyncSync,
  ftruncate,
  mkdirSync,
  open,
  openSync,
  read,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  unlink,
  unlinkSync,
  write,
} from 'node:fs';
import { promisify } from 'node:util';
import { Backoff } from '../../../lib/backoff.js';
import { errnoCode } from '../../../lib/errno.js';
import type { Logger } from '../../../log.js';
import type { BufferedRecord, DeliveryBuffer, EventMeta } from '../buffer.js';
import { RoomListeners } from '../room.js';
import { Ledger } from './ledger.js';
import { acquireLock, type DirLock } from './lock.js';
import { encodeRecordInto, recordSize } from './record.js';
import { decodeChunk, segmentFirstSeqs, segmentPath } from './segments.js';

const openAsync = promisify(open);
const closeAsync = promisify(close);
const readAsync = promisify(read);
const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);
const ftruncateAsync = promisify(ftruncate);
const unlinkAsync = promisify(unlink);

export interface DiskBufferOptions {
  /** The buffer's own directory (`<data_dir>/buffers/<output>/`), created when missing. */
  readonly dir: string;
  /** Bound on the directory's size: segments, ledger and lock together. */
  readonly maxBytes: number;
  /** `normal`: fdatasync every `flushIntervalMs`; `full`: before `committed()` resolves. */
  readonly sync: 'normal' | 'full';
  readonly flushIntervalMs: number;
  readonly log: Logger;
  /** Segment size (default 8 MiB, at most a quarter of `maxBytes` so freeing keeps up). */
  readonly segmentBytes?: number;
  /** Records found unreadable (bad checksum, missing segment): the caller counts them `corrupted`. */
  readonly onCorrupted?: (count: number) => void;
}

/** The ledger and lock files, counted against `max_size` so the directory stays within it. */
const METADATA_RESERVE = 4096;
const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;
/**
 * Most bytes encoded into one write. Each write is a round trip to the libuv pool, which on a
 * busy machine takes tens of milliseconds however small the write: throughput is this much per
 * round trip, so one write takes everything staged meanwhile, up to a segment.
 */
const MAX_WRITE_BATCH = 8 * 1024 * 1024;
/** Records pushed but not yet written may hold at most this much memory (a stalled disk is "full"). */
const MAX_STAGED_BYTES = 32 * 1024 * 1024;
/**
 * Written records the reader has not taken yet stay in memory up to this many (encoded) bytes,
 * so a reader that keeps up with the writer never reads, checks and decodes the files again.
 */
const RETAIN_BYTES = 16 * 1024 * 1024;
/** Read-ahead from a segment file per `read`. */
const READ_CHUNK = 256 * 1024;

interface Segment {
  readonly first: number;
  /** Bytes of whole records in the file. */
  size: number;
  /** The writer has moved on (or the segment is corrupt): nothing more is appended. */
  sealed: boolean;
  /** The writer's descriptor while this is the tail. */
  fd: number | null;
  /** The reader found bytes that are not a record: never scanned again. */
  corrupt?: boolean;
}

interface Entry {
  readonly record: BufferedRecord;
  /** Encoded bytes (record.ts recordSize). */
  readonly size: number;
  /** Where the record landed, once written. */
  seg: Segment | null;
  end: number;
}

interface ReadWaiter {
  readonly maxEvents: number;
  readonly maxBytes: number;
  readonly resolve: (records: BufferedRecord[]) => void;
}

/**
 * A `DeliveryBuffer` on disk: an append-only log of segment files, a ledger of what was
 * delivered and a lock (docs/architecture.md, "Disk buffers").
 *
 * `push` stages the record in memory (synchronously); in the background a write lane encodes
 * staged records into one buffer and appends it with one write on the libuv pool (fdatasync
 * before acknowledging under `sync: full`), and a maintenance lane fdatasyncs every flush
 * interval (`sync: normal`), writes the ledger and deletes segments the ledger has passed. `read` hands out
 * records straight from memory while delivery keeps up (written records stay there until
 * taken, up to RETAIN_BYTES) and reads segment files in bounded chunks when it lags, so the
 * backlog never has to fit in memory.
 */
export class DiskBuffer implements DeliveryBuffer {
  readonly type = 'disk' as const;
  readonly maxBytes: number;
  private readonly budget: number;
  private readonly segmentBytes: number;
  private readonly log: Logger;

  private readonly segments: Segment[] = [];
  /**
   * Records in memory in sequence order from `mem[memHead]`, without gaps: written ones the
   * reader has not taken yet (at most RETAIN_BYTES), then every record not yet written.
   */
  private mem: Entry[] = [];
  private memHead = 0;
  /** Encoded bytes of the records not yet written. */
  private stagedBytes = 0;
  /** Encoded bytes of the written records still in `mem`. */
  private retainedBytes = 0;
  /** The write buffer, reused: the write lane runs one write at a time. */
  private scratch: Buffer | null = null;
  /** `sync: normal`: descriptors of segments sealed since the last fdatasync; the next flush syncs and closes them. */
  private readonly unsyncedSealed: number[] = [];
  /** A segment was created (`sync: normal`) or unlinked since the last flush: the next one fsyncs the directory. */
  private dirUnsynced = false;
  private readonly room = new RoomListeners();
  private readWakeScheduled = false;
  private segmentTotal = 0;
  private nextSeq: number;
  private writtenSeq: number;
  private syncedSeq: number;
  private lastRecordBytes = 256;

  /** Every record <= acked is finished; `done` holds finished ranges beyond it (start -> end). */
  private acked: number;
  private readonly done = new Map<number, number>();
  private doneAhead = 0;
  private ledgerSeq: number;

  private readSeq: number;
  private lastTaken: Entry | null = null;
  private cursor: { seg: Segment; offset: number } | null = null;
  private readerFd: { seg: Segment; fd: number } | null = null;
  private readonly readWaiters: ReadWaiter[] = [];
  private reading = false;
  private readRetry: NodeJS.Timeout | null = null;

  private readonly commitWaiters: Array<{ target: number; resolve: () => void }> = [];
  /** The write lane and the maintenance lane while they run (see kick). */
  private writing: Promise<void> | null = null;
  private maintaining: Promise<void> | null = null;
  private syncDue = false;
  private ledgerDue = false;
  private rollRequested = false;
  private retryAt = 0;
  /** After a failed sync, ledger write or unlink: wait for the flush timer before trying again. */
  private pausedUntil = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly writeBackoff = new Backoff(100, 5000);
  private writeError: string | null = null;
  private readonly timer: NodeJS.Timeout;
  private closing = false;
  private readonly ledger: Ledger;
  private readonly lock: DirLock;

  /**
   * Opens the buffer in `options.dir`: takes the lock (throws `BufferLockedError` when
   * another live process holds it), reads the ledger, checks only the newest segment and
   * truncates a torn tail. Synchronous: it runs once per output at start or reload and
   * touches at most one segment.
   */
  constructor(private readonly options: DiskBufferOptions) {
    this.log = options.log;
    this.maxBytes = options.maxBytes;
    this.budget = Math.max(0, options.maxBytes - METADATA_RESERVE);
    this.segmentBytes = Math.max(
      1024,
      Math.min(options.segmentBytes ?? DEFAULT_SEGMENT_BYTES, Math.floor(this.budget / 4)),
    );
    const dir = options.dir;
    mkdirSync(dir, { recursive: true });
    this.lock = acquireLock(dir);
    try {
      if (this.lock.tookOverFrom !== null) {
        this.log.info('disk buffer: took over the lock of a recorder that is no longer running', {
          dir,
          pid: this.lock.tookOverFrom,
        });
      }
      this.ledger = Ledger.openSync(dir);
      const firsts = segmentFirstSeqs(readdirSync(dir));
      const fromLedger = this.ledger.initial?.seq;
      if (fromLedger === undefined && firsts.length > 0) {
        this.log.warn('disk buffer: ledger missing or unreadable; replaying from the oldest segment', {
          dir,
        });
      }
      let acked = fromLedger ?? (firsts.length > 0 ? (firsts[0] as number) - 1 : 0);
      // Segments wholly below the ledger: a crash came between the ledger sync and the unlink.
      while (firsts.length > 1 && (firsts[1] as number) - 1 <= acked) {
        unlinkSync(segmentPath(dir, firsts.shift() as number));
      }
      for (const first of firsts) {
        this.segments.push({ first, size: statSync(segmentPath(dir, first)).size, sealed: true, fd: null });
      }
      let next = Math.max(acked + 1, 1);
      const tail = this.segments.at(-1);
      if (tail) {
        const { lastSeq, validBytes } = checkTail(segmentPath(dir, tail.first));
        if (validBytes < tail.size) {
          this.log.warn('disk buffer: truncated a torn record at the end of the newest segment', {
            dir,
            bytes: tail.size - validBytes,
          });
          truncateSync(segmentPath(dir, tail.first), validBytes);
          tail.size = validBytes;
        }
        if (validBytes === 0) {
          unlinkSync(segmentPath(dir, tail.first));
          this.segments.pop();
          next = Math.max(next, tail.first);
        } else {
          tail.sealed = false;
          next = Math.max(next, (lastSeq as number) + 1);
        }
      }
      if (this.segments.length === 0) acked = Math.max(acked, next - 1);
      fsyncDir(dir);
      this.acked = acked;
      if (fromLedger === undefined) this.ledger.writeSync(acked);
      this.ledgerSeq = acked;
      this.nextSeq = next;
      this.writtenSeq = next - 1;
      this.syncedSeq = next - 1;
      this.readSeq = acked + 1;
      for (const s of this.segments) this.segmentTotal += s.size;
      if (this.ledgerSeq !== this.acked) this.ledgerDue = true;
    } catch (err) {
      this.lock.release();
      throw err;
    }
    this.timer = setInterval(() => {
      this.syncDue = this.writtenSeq > this.syncedSeq || this.dirUnsynced;
      this.ledgerDue = true;
      this.kick();
    }, options.flushIntervalMs);
    this.timer.unref();
    if (this.ledgerDue) this.kick();
  }

  get length(): number {
    return this.nextSeq - 1 - this.acked - this.doneAhead;
  }

  get bytes(): number {
    return this.segmentTotal + this.stagedBytes;
  }

  onRoom(listener: () => void): () => void {
    return this.room.add(listener);
  }

  get full(): boolean {
    return (
      this.closing ||
      this.writeError !== null ||
      this.bytes + this.lastRecordBytes > this.budget ||
      this.stagedBytes + this.lastRecordBytes > MAX_STAGED_BYTES
    );
  }

  /** Why writes are failing (e.g. ENOSPC), or null: the output reports not-ready meanwhile. */
  get problem(): string | null {
    return this.writeError;
  }

  /** The sequence number the next `push` gets. */
  get nextSequence(): number {
    return this.nextSeq;
  }

  get directory(): string {
    return this.options.dir;
  }

  push(line: Buffer, meta: EventMeta): boolean {
    if (this.closing || this.writeError !== null) return false;
    const size = recordSize(line);
    this.lastRecordBytes = size;
    if (this.bytes + size > this.budget || this.stagedBytes + size > MAX_STAGED_BYTES) return false;
    const seq = this.nextSeq;
    this.mem.push({ record: { seq, line, meta }, size, seg: null, end: 0 });
    this.stagedBytes += size;
    this.nextSeq = seq + 1;
    this.kickWriter();
    if (this.readWaiters.length > 0 && !this.readWakeScheduled) {
      // In a microtask, not inside push: the write loop pushes a whole turn's events
      // synchronously, and they should reach the waiting reader together.
      this.readWakeScheduled = true;
      queueMicrotask(() => {
        this.readWakeScheduled = false;
        this.serveReads();
      });
    }
    return true;
  }

  committed(): Promise<void> {
    const target = this.nextSeq - 1;
    if (target <= this.committedSeq() || this.closing) return Promise.resolve();
    return new Promise((resolve) => this.commitWaiters.push({ target, resolve }));
  }

  read(maxEvents: number, maxBytes: number): Promise<BufferedRecord[]> {
    if (this.closing) return Promise.resolve([]);
    // Delivery keeps up: the next records are in memory, no need to queue behind the read loop.
    if (
      this.readWaiters.length === 0 &&
      !this.reading &&
      this.readSeq >= this.memFirst() &&
      this.readSeq < this.nextSeq
    ) {
      return Promise.resolve(this.takeFromMemory(Math.max(1, maxEvents), maxBytes));
    }
    return new Promise((resolve) => {
      this.readWaiters.push({ maxEvents: Math.max(1, maxEvents), maxBytes, resolve });
      this.serveReads();
    });
  }

  ack(records: readonly BufferedRecord[]): void {
    const before = this.acked;
    // A batch is usually one run of consecutive sequence numbers: mark runs, not records.
    let i = 0;
    while (i < records.length) {
      const start = (records[i] as BufferedRecord).seq;
      let end = start;
      while (i + 1 < records.length && (records[i + 1] as BufferedRecord).seq === end + 1) {
        end++;
        i++;
      }
      this.markDone(start, end);
      i++;
    }
    // Delivered segments are freed with the next flush; at once only when space runs short.
    if (this.acked !== before && this.freeable() && this.spaceShort()) this.kick();
  }

  async close(): Promise<number> {
    if (this.closing) return 0;
    this.closing = true;
    this.stopTimers();
    for (const w of this.readWaiters.splice(0)) w.resolve([]);
    await this.lanesIdle();
    let lost = 0;
    try {
      // Batch by batch until everything is written or a write fails.
      for (let left = this.staged(); left > 0; left = this.staged()) {
        await this.writeBatch(true);
        if (this.staged() >= left) break;
      }
      lost = this.staged();
      if (lost > 0) {
        this.log.error('disk buffer: could not write records at shutdown', { dir: this.options.dir, lost });
      }
      await this.syncTail();
      await this.persistLedger();
    } catch (err) {
      this.log.error('disk buffer: shutdown write failed', { dir: this.options.dir, err: errText(err) });
      lost = this.staged();
    }
    for (const w of this.commitWaiters.splice(0)) w.resolve();
    if (this.length > 0) {
      // Picked up by the next start (or a reload) with an output of the same name; a removed
      // output's folder stays as it is until an operator deletes it.
      this.log.info('disk buffer closed; its events stay on disk for the next start', {
        dir: this.options.dir,
        events: this.length,
      });
    }
    this.closeDescriptors();
    this.ledger.close();
    this.lock.release();
    this.room.notify();
    return lost;
  }

  /**
   * The reader goes away (its output is replaced by a reload) while the buffer stays open for
   * the next one: pending reads resolve `[]`, and everything handed out but not acknowledged
   * will be handed out again, from the oldest unfinished record on.
   */
  releaseReader(): void {
    for (const w of this.readWaiters.splice(0)) w.resolve([]);
    this.readSeq = this.acked + 1;
    this.cursor = null;
    this.lastTaken = null;
  }

  /**
   * For tests: stop the way SIGKILL would, as far as the files tell: nothing staged is
   * written, no fdatasync, no ledger update, the lock file stays. Only this process's
   * record of holding the lock is dropped so a new instance can take the stale lock over.
   */
  async crashForTest(): Promise<void> {
    this.closing = true;
    this.stopTimers();
    for (const w of this.readWaiters.splice(0)) w.resolve([]);
    await this.lanesIdle();
    this.closeDescriptors();
    this.ledger.close();
    this.lock.forget();
  }

  private stopTimers(): void {
    clearInterval(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.readRetry) clearTimeout(this.readRetry);
    this.readRetry = null;
  }

  /** Every descriptor this buffer holds (segments, sealed ones awaiting their sync, the reader's), without syncing. */
  private closeDescriptors(): void {
    for (const s of this.segments) {
      if (s.fd !== null) closeSync(s.fd);
      s.fd = null;
    }
    for (const fd of this.unsyncedSealed.splice(0)) closeSync(fd);
    if (this.readerFd) closeSync(this.readerFd.fd);
    this.readerFd = null;
  }

  // --- acknowledgement bookkeeping -------------------------------------------------------

  private markDone(start: number, end: number): void {
    if (end <= this.acked) return;
    if (start > this.acked + 1) {
      if (!this.done.has(start)) {
        this.done.set(start, end);
        this.doneAhead += end - start + 1;
      }
      return;
    }
    this.acked = end;
    for (
      let nextEnd = this.done.get(this.acked + 1);
      nextEnd !== undefined;
      nextEnd = this.done.get(this.acked + 1)
    ) {
      this.done.delete(this.acked + 1);
      this.doneAhead -= nextEnd - this.acked;
      this.acked = nextEnd;
    }
  }

  /**
   * Over half of max_size in use: free delivered segments as soon as they are delivered.
   * Otherwise once per flush interval, so that a busy buffer's ledger fdatasync (a journal
   * commit, which on ext4 waits for the segments' data and holds up appends meanwhile) runs
   * with the periodic sync, not once per segment.
   */
  private spaceShort(): boolean {
    return this.bytes > this.budget / 2;
  }

  private freeable(): boolean {
    const oldest = this.segments[0];
    if (!oldest?.sealed) return false;
    return this.acked >= this.firstSeqAfter(0) - 1;
  }

  /** The first sequence number after segment `i`. */
  private firstSeqAfter(i: number): number {
    const next = this.segments[i + 1];
    if (next) return next.first;
    return this.writtenSeq + 1;
  }

  /** Records pushed and not yet written: the last ones in `mem`. */
  private staged(): number {
    return this.nextSeq - 1 - this.writtenSeq;
  }

  /** The sequence number of the oldest record in memory (nextSeq when there is none). */
  private memFirst(): number {
    return this.memHead < this.mem.length ? (this.mem[this.memHead] as Entry).record.seq : this.nextSeq;
  }

  /**
   * Lets go of written records the reader has taken, and of the oldest written ones beyond
   * RETAIN_BYTES (the reader finds those in the files).
   */
  private trimMemory(): void {
    while (this.memHead < this.mem.length) {
      const e = this.mem[this.memHead] as Entry;
      if (e.seg === null) break;
      if (e.record.seq >= this.readSeq && this.retainedBytes <= RETAIN_BYTES) break;
      this.mem[this.memHead] = undefined as unknown as Entry;
      this.memHead++;
      this.retainedBytes -= e.size;
    }
    if (this.memHead > 1024 && this.memHead * 2 > this.mem.length) {
      this.mem = this.mem.slice(this.memHead);
      this.memHead = 0;
    }
  }

  private committedSeq(): number {
    return this.options.sync === 'full' ? this.syncedSeq : this.writtenSeq;
  }

  private resolveCommits(): void {
    const upTo = this.committedSeq();
    let n = 0;
    while (n < this.commitWaiters.length && (this.commitWaiters[n] as { target: number }).target <= upTo) n++;
    for (const w of this.commitWaiters.splice(0, n)) w.resolve();
  }

  // --- background work: two lanes, each one step at a time ---------------------------------
  //
  // The write lane appends staged records; the maintenance lane fdatasyncs (sync: normal),
  // writes the ledger and unlinks delivered segments. They run side by side so that a slow
  // fdatasync (the disk flushing a flush interval's worth of data) never holds up appends:
  // records keep reaching the page cache, and the sync covers what was written before it began.
  // They touch different things: the write lane only the tail segment and segments it seals,
  // the maintenance lane sealed segments, the ledger, and the tail only to fdatasync it.

  private kick(): void {
    this.kickWriter();
    if (this.maintaining === null && this.maintenanceWork()) {
      this.maintaining = this.lane(() => this.maintenanceTurns()).finally(() => {
        this.maintaining = null;
        if (this.maintenanceWork()) this.kick();
      });
    }
  }

  /** The write lane only: what a push creates (it runs per event, so it checks no more than that). */
  private kickWriter(): void {
    if (this.writing === null && this.writeWork()) {
      this.writing = this.lane(() => this.writeTurns()).finally(() => {
        this.writing = null;
        if (this.writeWork()) this.kickWriter();
      });
    }
  }

  /** Starts `turns` after the current turn of the event loop: a turn's pushes go out in one write. */
  private lane(turns: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve) => setImmediate(resolve)).then(turns);
  }

  /** Until both lanes are idle (close, crash). */
  private async lanesIdle(): Promise<void> {
    while (this.writing !== null || this.maintaining !== null)
      await Promise.all([this.writing, this.maintaining]);
  }

  private writeWork(): boolean {
    return !this.closing && this.staged() > 0 && Date.now() >= this.retryAt;
  }

  private maintenanceWork(): boolean {
    return !this.closing && (this.syncDue || this.ledgerWork());
  }

  private ledgerWork(): boolean {
    if (Date.now() < this.pausedUntil) return false;
    const freeable = this.freeable();
    return (this.ledgerDue && (this.ledgerSeq !== this.acked || freeable)) || (freeable && this.spaceShort());
  }

  private async writeTurns(): Promise<void> {
    for (let turns = 0; turns < 64 && this.writeWork(); turns++) {
      try {
        await this.writeBatch(false);
      } catch (err) {
        // writeBatch handles write failures itself; this is sealing a segment failing (EIO).
        this.log.error('disk buffer: background write failed', {
          dir: this.options.dir,
          err: errText(err),
        });
        this.retryLater(1000);
        return;
      }
    }
  }

  private async maintenanceTurns(): Promise<void> {
    for (let turns = 0; turns < 64 && !this.closing; turns++) {
      try {
        if (this.syncDue) {
          this.syncDue = false;
          await this.syncTail();
        } else if (this.ledgerWork()) {
          this.ledgerDue = false;
          await this.persistLedger();
          await this.freeSegments();
        } else {
          return;
        }
      } catch (err) {
        // Sync, ledger or unlink failed (EIO and the like): log, and try again on the next tick.
        this.log.error('disk buffer: background write failed', {
          dir: this.options.dir,
          err: errText(err),
        });
        this.syncDue = false;
        this.pausedUntil = Date.now() + 1000;
        return;
      }
    }
  }

  /** No write before `delay` ms from now; then the write lane starts again. */
  private retryLater(delay: number): void {
    this.retryAt = Date.now() + delay;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.kick();
    }, delay);
    this.retryTimer.unref();
  }

  /**
   * Appends staged records: encoded into one buffer, one write. On failure: truncate to the
   * last whole record, back off.
   */
  private async writeBatch(final: boolean): Promise<void> {
    // Only this lane consumes staged records, so the first staged one stays first across the
    // awaits below; its index does not: a read meanwhile may compact `mem` (trimMemory).
    const first = this.mem[this.mem.length - this.staged()] as Entry;
    let tail = this.segments.at(-1);
    if (
      !tail ||
      tail.sealed ||
      this.rollRequested ||
      (tail.size > 0 && tail.size + first.size > this.segmentBytes)
    ) {
      // Also a tail reopened at start (no descriptor yet): the reader must see it sealed to move on.
      if (tail) await this.sealTail(tail);
      this.rollRequested = false;
      tail = { first: first.record.seq, size: 0, sealed: false, fd: null };
      this.segments.push(tail);
    }
    const seg = tail;
    // The batch's entries themselves, not their indexes, are what the write marks afterwards.
    const batch: Entry[] = [];
    let bytes = 0;
    for (let i = this.mem.length - this.staged(); i < this.mem.length; i++) {
      const e = this.mem[i] as Entry;
      if (
        batch.length > 0 &&
        (seg.size + bytes + e.size > this.segmentBytes || bytes + e.size > MAX_WRITE_BATCH)
      )
        break;
      bytes += e.size;
      batch.push(e);
    }
    const out = this.writeBuffer(bytes);
    let at = 0;
    for (const e of batch) {
      encodeRecordInto(out, at, e.record.seq, e.record.line);
      at += e.size;
    }
    const start = seg.size;
    try {
      if (seg.fd === null) {
        // A segment still empty may never have been created (its first open failed, e.g. ENOSPC).
        const fresh = seg.size === 0;
        seg.fd = await openAsync(segmentPath(this.options.dir, seg.first), fresh ? 'w' : 'r+');
        // The new file's name must be durable with its records: at once under sync: full; under
        // sync: normal with the next flush (a directory fsync waits for a journal commit, which
        // can take long on a busy disk, and must not hold up appends).
        if (fresh && this.options.sync === 'full') await fsyncDirAsync(this.options.dir);
        else if (fresh) this.dirUnsynced = true;
      }
      const { bytesWritten } = await writeAsync(seg.fd, out, 0, bytes, start);
      if (bytesWritten !== bytes) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
      if (this.options.sync === 'full') await fdatasyncAsync(seg.fd);
    } catch (err) {
      if (seg.fd !== null) await ftruncateAsync(seg.fd, start).catch(() => undefined);
      const why = errText(err);
      if (this.writeError === null) {
        this.log.error('disk buffer: write failed; refusing new events until a retry succeeds', {
          dir: this.options.dir,
          err: why,
        });
      }
      this.writeError = why;
      if (!final) this.retryLater(this.writeBackoff.next());
      return;
    }
    if (this.writeError !== null) {
      this.log.info('disk buffer: writes succeed again', { dir: this.options.dir });
      this.writeError = null;
    }
    this.writeBackoff.reset();
    let offset = start;
    for (const e of batch) {
      offset += e.size;
      e.seg = seg;
      e.end = offset;
    }
    this.writtenSeq = (batch.at(-1) as Entry).record.seq;
    seg.size += bytes;
    this.segmentTotal += bytes;
    this.stagedBytes -= bytes;
    this.retainedBytes += bytes;
    this.trimMemory();
    if (this.options.sync === 'full') this.syncedSeq = this.writtenSeq;
    this.resolveCommits();
    this.room.notify();
  }

  /**
   * A buffer for `bytes` of encoded records: the reused one, grown in MiB steps to the largest
   * write so far (at most MAX_WRITE_BATCH), or one of its own for a single larger record.
   */
  private writeBuffer(bytes: number): Buffer {
    if (bytes > MAX_WRITE_BATCH) return Buffer.allocUnsafeSlow(bytes);
    if (this.scratch === null || this.scratch.length < bytes) {
      this.scratch = Buffer.allocUnsafeSlow(Math.min(MAX_WRITE_BATCH, Math.ceil(bytes / 2 ** 20) * 2 ** 20));
    }
    return this.scratch;
  }

  /**
   * The writer moves to a new segment. `sync: full` synced every write already; `sync: normal`
   * leaves the fdatasync to the next flush (syncTail), as for the tail: sealing does not wait
   * for the disk.
   */
  private async sealTail(tail: Segment): Promise<void> {
    if (tail.fd !== null) {
      if (this.options.sync === 'full') await closeAsync(tail.fd);
      else this.unsyncedSealed.push(tail.fd);
      tail.fd = null;
    }
    tail.sealed = true;
  }

  private async syncTail(): Promise<void> {
    const target = this.writtenSeq;
    // Segments sealed since the last sync first; a descriptor leaves the list only once synced.
    while (this.unsyncedSealed.length > 0) {
      const fd = this.unsyncedSealed[0] as number;
      await fdatasyncAsync(fd);
      this.unsyncedSealed.shift();
      await closeAsync(fd);
    }
    const tail = this.segments.at(-1);
    // Under sync: full every write was fdatasync'ed already, and the write lane may close the
    // tail's descriptor (sealing it) while this runs.
    if (this.options.sync === 'normal' && tail?.fd != null) await fdatasyncAsync(tail.fd);
    if (this.dirUnsynced) {
      this.dirUnsynced = false;
      await fsyncDirAsync(this.options.dir).catch((err: unknown) => {
        this.dirUnsynced = true;
        throw err;
      });
    }
    this.syncedSeq = Math.max(this.syncedSeq, target);
    this.resolveCommits();
  }

  private async persistLedger(): Promise<void> {
    const target = this.acked;
    if (target === this.ledgerSeq) return;
    await this.ledger.write(target);
    this.ledgerSeq = target;
  }

  /** Deletes segments the synced ledger has passed, oldest first. */
  private async freeSegments(): Promise<void> {
    let removed = false;
    for (;;) {
      const oldest = this.segments[0];
      if (!oldest?.sealed || this.ledgerSeq < this.firstSeqAfter(0) - 1) break;
      if (this.readerFd?.seg === oldest) {
        await closeAsync(this.readerFd.fd);
        this.readerFd = null;
      }
      await unlinkAsync(segmentPath(this.options.dir, oldest.first)).catch((err: unknown) => {
        if (errnoCode(err) !== 'ENOENT') throw err;
      });
      // The write lane only ever appends segments: the oldest is still first.
      this.segments.shift();
      this.segmentTotal -= oldest.size;
      removed = true;
    }
    if (removed) {
      this.room.notify();
      // The unlinks reach the disk with the next flush's directory fsync; a segment that
      // comes back after a power loss is below the synced ledger and removed at start.
      this.dirUnsynced = true;
    }
  }

  // --- reading ---------------------------------------------------------------------------

  private serveReads(): void {
    if (this.reading) return;
    this.reading = true;
    void this.readLoop();
  }

  private async readLoop(): Promise<void> {
    try {
      await this.readTurns();
    } finally {
      this.reading = false;
      // A read() that arrived after the last turn's check found `reading` still true.
      if (this.readWaiters.length > 0 && this.readSeq < this.nextSeq && !this.readRetry && !this.closing) {
        this.serveReads();
      }
    }
  }

  private async readTurns(): Promise<void> {
    while (this.readWaiters.length > 0 && !this.closing) {
      if (this.readSeq >= this.nextSeq) return; // nothing to hand out; push() wakes us
      const w = this.readWaiters[0] as ReadWaiter;
      let records: BufferedRecord[];
      const before = this.readPosition();
      try {
        records = await this.take(w.maxEvents, w.maxBytes);
      } catch (err) {
        if (this.closing) return;
        // An unreadable file (EIO, removed by hand): count what it held and move past it.
        this.log.error('disk buffer: read failed; skipping the segment', {
          dir: this.options.dir,
          err: errText(err),
        });
        this.skipCurrentSegment();
        continue;
      }
      if (records.length > 0 && this.readWaiters[0] === w) {
        this.readWaiters.shift();
        w.resolve(records);
      } else if (records.length === 0 && this.readPosition() === before) {
        // No progress and no position: let the writer move first instead of spinning.
        this.readRetry = setTimeout(() => {
          this.readRetry = null;
          this.serveReads();
        }, 10);
        this.readRetry.unref();
        return;
      }
    }
  }

  private readPosition(): string {
    return `${this.readSeq}:${this.cursor?.seg.first ?? '-'}:${this.cursor?.offset ?? '-'}`;
  }

  /** The next records from memory (delivery keeps up) or from the segment files (it lags). */
  private async take(maxEvents: number, maxBytes: number): Promise<BufferedRecord[]> {
    if (this.readSeq >= this.memFirst()) return this.takeFromMemory(maxEvents, maxBytes);
    return this.takeFromFile(maxEvents, maxBytes);
  }

  /** From `mem`, which holds readSeq (readSeq >= memFirst()). */
  private takeFromMemory(maxEvents: number, maxBytes: number): BufferedRecord[] {
    const out: BufferedRecord[] = [];
    let bytes = 0;
    for (
      let i = this.memHead + (this.readSeq - this.memFirst());
      i < this.mem.length && out.length < maxEvents;
      i++
    ) {
      const e = this.mem[i] as Entry;
      if (out.length > 0 && bytes + e.record.line.length > maxBytes) break;
      bytes += e.record.line.length;
      out.push(e.record);
      this.lastTaken = e;
    }
    this.cursor = null;
    this.readSeq += out.length;
    this.trimMemory();
    return out;
  }

  private async takeFromFile(maxEvents: number, maxBytes: number): Promise<BufferedRecord[]> {
    const cursor = this.locate();
    if (!cursor) {
      // No segment holds readSeq (they were removed by hand): count the gap as lost.
      this.lose(this.firstSeqInFiles() - this.readSeq);
      return [];
    }
    const { seg } = cursor;
    if (cursor.offset >= seg.size) {
      if (!seg.sealed) return []; // caught up with the writer; memory holds the rest
      this.moveToNextSegment(seg);
      return [];
    }
    const fd = await this.readerFdFor(seg);
    let want = Math.max(READ_CHUNK, Math.min(maxBytes, MAX_WRITE_BATCH));
    for (;;) {
      const len = Math.min(want, seg.size - cursor.offset);
      const buf = Buffer.allocUnsafe(len);
      const { bytesRead } = await readAsync(fd, buf, 0, len, cursor.offset);
      const chunk = decodeChunk(buf.subarray(0, bytesRead), cursor.offset, maxEvents, maxBytes);
      const out: BufferedRecord[] = [];
      for (const r of chunk.records) {
        const seq = r.record.seq;
        if (seq < this.readSeq) continue; // before the ledger (resuming inside a segment)
        if (seq > this.readSeq) this.lose(seq - this.readSeq); // a gap the writer never left
        out.push(r.record);
        this.readSeq = seq + 1;
      }
      if (this.cursor === cursor) cursor.offset = chunk.next;
      if (chunk.records.length > 0) return out;
      if (chunk.corrupt === undefined && chunk.need !== undefined && cursor.offset + chunk.need <= seg.size) {
        want = chunk.need;
        continue;
      }
      this.corruptAt(seg, chunk.corrupt ?? 'record cut short');
      return out;
    }
  }

  /** Where readSeq is in the files: after the last record taken from memory, else found by a scan. */
  private locate(): { seg: Segment; offset: number } | null {
    if (this.cursor && this.segments.includes(this.cursor.seg)) return this.cursor;
    const taken = this.lastTaken;
    if (taken?.seg && taken.record.seq === this.readSeq - 1 && this.segments.includes(taken.seg)) {
      this.cursor = { seg: taken.seg, offset: taken.end };
      return this.cursor;
    }
    // The last segment starting at or before readSeq; records before readSeq are skipped while reading.
    let found: Segment | null = null;
    for (const s of this.segments) {
      if (s.first <= this.readSeq) found = s;
      else break;
    }
    if (found?.corrupt) {
      // Its readable part is behind us: go on with the next segment.
      const next = this.segments[this.segments.indexOf(found) + 1];
      this.lose((next?.first ?? this.firstSeqAfter(this.segments.indexOf(found))) - this.readSeq);
      if (!next) return null;
      found = next;
    }
    if (!found) {
      const oldest = this.segments[0];
      if (!oldest) return null;
      this.lose(oldest.first - this.readSeq);
      found = oldest;
    }
    this.cursor = { seg: found, offset: 0 };
    return this.cursor;
  }

  private firstSeqInFiles(): number {
    return this.segments[0]?.first ?? this.firstSeqAfter(this.segments.length - 1);
  }

  private moveToNextSegment(seg: Segment): void {
    const i = this.segments.indexOf(seg);
    const nextFirst = this.firstSeqAfter(i);
    if (this.readSeq < nextFirst) this.lose(nextFirst - this.readSeq);
    const next = this.segments[i + 1];
    this.cursor = next ? { seg: next, offset: 0 } : null;
  }

  /** The rest of `seg` cannot be read: count its records lost and go on with the next segment. */
  private corruptAt(seg: Segment, why: string): void {
    const i = this.segments.indexOf(seg);
    seg.corrupt = true;
    if (!seg.sealed) {
      // The writer's own segment: it moves to a new one, and everything written so far is behind.
      seg.sealed = true;
      this.rollRequested = true;
    }
    const lost = this.firstSeqAfter(i) - this.readSeq;
    this.log.error('disk buffer: corrupt segment; skipping the rest of it', {
      dir: this.options.dir,
      segment: segmentPath(this.options.dir, seg.first),
      why,
      records: lost,
    });
    this.moveToNextSegment(seg);
  }

  private skipCurrentSegment(): void {
    const seg = this.cursor?.seg ?? this.segments.find((s) => s.first <= this.readSeq);
    if (seg) this.corruptAt(seg, 'unreadable');
    else this.lose(this.firstSeqInFiles() - this.readSeq);
  }

  /** `count` records from readSeq on are gone: finished, counted as corrupted. */
  private lose(count: number): void {
    if (count <= 0) return;
    const start = this.readSeq;
    this.readSeq += count;
    this.markDone(start, start + count - 1);
    this.options.onCorrupted?.(count);
    this.ledgerDue = true;
    this.kick();
  }

  private async readerFdFor(seg: Segment): Promise<number> {
    if (this.readerFd?.seg === seg) return this.readerFd.fd;
    if (this.readerFd) await closeAsync(this.readerFd.fd).catch(() => undefined);
    this.readerFd = null;
    const fd = await openAsync(segmentPath(this.options.dir, seg.first), 'r');
    this.readerFd = { seg, fd };
    return fd;
  }
}

/** Scans the newest segment: the last whole, valid record's sequence and where it ends. */
function checkTail(path: string): { lastSeq: number | null; validBytes: number } {
  const bytes = readFileSync(path);
  const chunk = decodeChunk(bytes, 0);
  const last = chunk.records.at(-1);
  return { lastSeq: last ? last.record.seq : null, validBytes: chunk.next };
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function fsyncDirAsync(dir: string): Promise<void> {
  const fd = await openAsync(dir, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    await closeAsync(fd);
  }
}

function errText(err: unknown): string {
  const code = errnoCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return code ? `${code}: ${message}` : message;
}
