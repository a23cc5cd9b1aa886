import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { RecorderEvent } from '../../events/event.js';
import { Backoff } from '../../lib/backoff.js';
import { ConditionWaiters } from '../../lib/condition.js';
import { MARK, TRACE } from '../../lib/latency-trace.js';
import type { Logger } from '../../log.js';
import type { OutputMeter } from '../../metrics/registry.js';
import type { WhenFull } from '../delivery/buffer-config.js';
import { CommitWatermark } from '../delivery/commit-watermark.js';
import { DropLogThrottle } from '../delivery/drop-log.js';
import type { Output, OutputDeps } from '../output.js';
import { FileAppender } from './appender.js';
import { WriteBatch } from './batch.js';
import type { FileOutputConfig } from './config.js';
import { errnoCode, isMissing, type OpenedFile } from './fs-ops.js';
import { PathWatcher } from './path-watcher.js';
import { RotationDetector } from './rotation.js';

export interface FileOutputOptions {
  /** How long a renamed/deleted file may stay missing before the output creates it itself. */
  recreateGraceMs?: number;
  /** Period of the fstat/stat comparison that catches rotations the watcher missed. */
  checkIntervalMs?: number;
}

const DEFAULT_RECREATE_GRACE_MS = 1000;
const DEFAULT_CHECK_INTERVAL_MS = 1000;

/** Work the I/O loop has been asked to do; the loop is the only code that touches the descriptor. */
interface Due {
  open: boolean;
  reopen: boolean;
  check: boolean;
  fsync: boolean;
  finish: boolean;
}

/**
 * Appends each event as one JSONL line to a local file: batching, `when_full`, the
 * acknowledgement watermark, retries and metrics. The descriptor itself is the appender's
 * (appender.ts), rotation detection is rotation.ts.
 *
 * All file I/O runs in one sequential loop (`run`), so there is never more than one
 * write in flight, never a write into a descriptor being closed or swapped, and lines
 * are never interleaved. `send` only appends to an array and schedules the loop once
 * per batch; the loop then writes everything buffered with a single writev.
 *
 * Rotation (docs/architecture.md "File rotation, as logrotate really behaves"):
 * - create mode: when the path is renamed or deleted, keep writing to the old
 *   descriptor (those lines land in the rotated file), reopen as soon as a new file
 *   appears, and create one ourselves only after `recreateGraceMs`. Creating it at once
 *   would race logrotate's own create, which then fails with "File exists".
 * - copytruncate: the inode stays, O_APPEND continues at the new end. Lines written
 *   between logrotate's copy and its truncate are lost; that window belongs to
 *   copytruncate itself and no writer can close it (config/logrotate.example says so).
 * - reopen() (SIGUSR1 from a postrotate script): reopen at once.
 */
export class FileOutput implements Output {
  readonly kind = 'file';
  readonly name: string;
  readonly whenFull: WhenFull;

  private readonly path: string;
  private readonly meter: OutputMeter;
  private readonly reopens: { inc(): void };
  private readonly log: Logger;
  private readonly rotation: RotationDetector;
  private readonly checkIntervalMs: number;

  /** Lines accepted and not yet handed to a write; swapped out whole for each batch. */
  private buffered: Buffer[] = [];
  /** The batch being written, or kept for a retry after a write error. */
  private inflight: WriteBatch | null = null;
  private flushing = false;

  private readonly appender: FileAppender;
  private lastWriteFailed = false;

  private readonly due: Due = { open: false, reopen: false, check: false, fsync: false, finish: false };
  private busy = false;
  private kicked = false;
  /**
   * The `fsync: interval` fdatasync, which runs beside writes rather than in the loop: on a
   * real disk it takes milliseconds (journal commit), and holding every write behind it was the
   * tail of the answer time with acknowledgements. Whatever replaces or closes the descriptor
   * waits for it first (`settleSync`).
   */
  private intervalSync: Promise<void> | null = null;
  /** The interval sync failed: the loop handles it in turn (it releases the descriptor). */
  private syncError: { err: unknown } | null = null;

  private readonly backoff = new Backoff(100, 5000);
  private openTimer: NodeJS.Timeout | null = null;
  private fsyncTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  private readonly watcher: PathWatcher;

  private started = false;
  private closing = false;
  /** The close budget is spent: no new writes, only releasing the descriptor. */
  private stopped = false;
  private closePromise: Promise<void> | null = null;
  /** Close is over: `pending()` changes no more. */
  private closed = false;
  private onFinished: (() => void) | null = null;
  private readonly progress = new ConditionWaiters();
  /** `what:code` of the problem last logged, so a failing retry logs once, not every time. */
  private problem: string | null = null;
  /** Which accepted lines are written (and synced under `fsync: always`): `committed()`. */
  private readonly durable = new CommitWatermark();
  private roomWaiters: Array<() => void> = [];
  private readonly dropLog = new DropLogThrottle();
  /** Lines `send` took so far (the latency trace's event numbers). */
  private linesTaken = 0;

  constructor(
    private readonly config: FileOutputConfig,
    deps: OutputDeps,
    opts: FileOutputOptions = {},
  ) {
    this.name = config.name;
    this.whenFull = config.buffer.whenFull;
    this.path = resolve(config.path);
    this.meter = deps.metrics.forOutput(config.name, this);
    this.reopens = deps.metrics.fileReopens.labels(config.name);
    this.log = deps.logger.child({ output: config.name, kind: this.kind });
    this.appender = new FileAppender(this.path, config.fileMode, this.log);
    this.rotation = new RotationDetector(
      this.path,
      opts.recreateGraceMs ?? DEFAULT_RECREATE_GRACE_MS,
      this.log,
      () => this.requestCheck(),
    );
    this.checkIntervalMs = opts.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS;
    this.watcher = new PathWatcher(this.path, () => this.requestCheck(), this.log);
  }

  start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    this.checkTimer = setInterval(() => this.requestCheck(), this.checkIntervalMs);
    this.checkTimer.unref();
    this.due.open = true;
    this.kick();
  }

  send(line: Buffer, _event: RecorderEvent): boolean {
    if (this.closing) {
      this.drop('closed');
      return false;
    }
    // In-flight lines count too: buffer.maxEvents bounds the memory this output holds. A
    // `block` output is only handed a line without room at a reload or shutdown (Output.hasRoom).
    if (this.whenFull === 'drop_newest' && this.pending() >= this.config.buffer.maxEvents) {
      this.drop('buffer_full');
      return false;
    }
    this.buffered.push(line);
    this.linesTaken++;
    this.durable.take();
    // While the file is not open, the successful reopen flushes; no point waking the loop.
    if (this.appender.isOpen) this.kick();
    return true;
  }

  hasRoom(): boolean {
    return this.closing || this.pending() < this.config.buffer.maxEvents;
  }

  whenRoom(): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  committed(): Promise<boolean> {
    return this.durable.committed();
  }

  failing(): boolean {
    return this.problem !== null;
  }

  isUp(): boolean {
    return this.appender.isOpen && !this.lastWriteFailed;
  }

  pending(): number {
    return this.buffered.length + (this.inflight?.remaining ?? 0);
  }

  /** `progress` is announced after every step of the I/O loop and when close ends. */
  whenPendingAtMost(atMost: number, signal?: AbortSignal): Promise<boolean> {
    return this.progress.untilAtMost(
      () => this.pending(),
      atMost,
      () => this.closed,
      signal,
    );
  }

  reopen(): void {
    if (this.closing) return;
    if (this.appender.isOpen) {
      this.due.reopen = true;
    } else if (this.started) {
      // Down and waiting for the next retry: the operator asks for one now.
      this.clearTimer('openTimer');
      this.due.open = true;
    }
    this.kick();
  }

  close(budgetMs: number): Promise<void> {
    this.closePromise ??= this.shutdown(budgetMs)
      .catch((err: unknown) => {
        this.log.error('closing the file output failed', { path: this.path, err });
      })
      .finally(() => {
        this.closed = true;
        this.progress.changed();
      });
    return this.closePromise;
  }

  /** Counts a drop and says so, throttled (the metric counts every one). */
  private drop(reason: 'closed' | 'buffer_full'): void {
    this.meter.lost(reason);
    const dropped = this.dropLog.note();
    if (dropped === 0) return;
    if (reason === 'buffer_full') {
      this.log.warn('file buffer full; dropping events (when_full: drop_newest)', {
        path: this.path,
        dropped,
        max_events: this.config.buffer.maxEvents,
      });
    } else {
      this.log.warn('file output closed; dropping events sent to it', { path: this.path, dropped });
    }
  }

  private notifyRoom(): void {
    if (this.roomWaiters.length === 0 || !this.hasRoom()) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const resolve of waiters) resolve();
  }

  // ---- shutdown -------------------------------------------------------------------

  private async shutdown(budgetMs: number): Promise<void> {
    this.closing = true;
    this.notifyRoom();
    const deadline = performance.now() + Math.max(0, budgetMs);
    this.clearTimer('checkTimer');
    this.rotation.stop();
    if (this.appender.isOpen) this.kick();
    const drained = await this.progress.until(() => this.pending() === 0, deadline - performance.now());
    // A write still running at the deadline accounts for its own lines when it returns;
    // waiting for it could exceed the budget without bound (a hung network filesystem).
    const abandonedOp = !drained && (this.busy || this.intervalSync !== null);
    if (!drained) this.abandon();
    this.stopped = true;
    this.clearTimer('openTimer');
    this.clearTimer('fsyncTimer');
    await this.watcher.close();
    const finished = new Promise<void>((res) => {
      this.onFinished = res;
    });
    this.due.finish = true;
    this.kick();
    if (!abandonedOp) await finished;
    this.meter.release();
  }

  /** The budget is spent: whatever is not on disk now never will be. */
  private abandon(): void {
    let lost = this.buffered.length;
    this.buffered = [];
    if (this.inflight && !this.flushing) {
      lost += this.inflight.remaining;
      this.inflight = null;
    }
    // A write still running may yet land its lines; acknowledging them now would be a guess.
    this.durable.abandonPending();
    this.durable.lostNext(lost);
    this.meter.lost('shutdown', lost);
    if (lost > 0)
      this.log.warn('shutdown budget exhausted; events not written', { path: this.path, events: lost });
  }

  private async finish(): Promise<void> {
    await this.settleSync();
    await this.appender.close();
    this.onFinished?.();
    this.onFinished = null;
  }

  // ---- the I/O loop ---------------------------------------------------------------

  /**
   * Schedules the loop once; everything asked for meanwhile is done in the same pass. A
   * microtask, not setImmediate: the recorder calls `send` for every event of its turn
   * synchronously, so the turn's lines are all buffered when the microtask runs, and the write
   * starts at the end of that turn instead of one event-loop iteration later.
   */
  private kick(): void {
    if (this.busy || this.kicked) return;
    this.kicked = true;
    queueMicrotask(this.runKicked);
  }

  private readonly runKicked = (): void => {
    this.kicked = false;
    void this.run();
  };

  private async run(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    let healthy = true;
    try {
      while (await this.step()) this.progress.changed();
    } catch (err) {
      // Every step handles its own I/O errors; this is a bug guard so no rejection escapes.
      healthy = false;
      this.log.error('file output loop failed', { path: this.path, err });
    } finally {
      this.busy = false;
      this.progress.changed();
      // Work that arrived during the last step; a later iteration, so a bug can never spin here.
      if (healthy && this.hasWork()) setImmediate(() => this.kick());
    }
  }

  /** Does the most urgent due thing; false when there is nothing to do now. */
  private async step(): Promise<boolean> {
    if (this.due.finish) {
      this.due.finish = false;
      await this.finish();
      return false;
    }
    if (this.stopped) return false;
    if (this.syncError) {
      const { err } = this.syncError;
      this.syncError = null;
      await this.fail('fdatasync failed', err);
      return true;
    }
    const file = this.appender.current;
    if (!file) {
      if (!this.due.open) return false;
      this.due.open = false;
      await this.openInitial();
    } else if (this.due.reopen) {
      this.due.reopen = false;
      await this.swap(true, 'reopen requested');
    } else if (this.due.check) {
      this.due.check = false;
      await this.checkRotation(file);
    } else if (this.due.fsync && !this.intervalSync) {
      this.due.fsync = false;
      this.startIntervalSync();
    } else if (this.pending() > 0) {
      await this.flush();
    } else {
      return false;
    }
    return true;
  }

  private hasWork(): boolean {
    if (this.due.finish) return true;
    if (this.stopped) return false;
    if (this.syncError) return true;
    if (!this.appender.isOpen) return this.due.open;
    return this.due.reopen || this.due.check || (this.due.fsync && !this.intervalSync) || this.pending() > 0;
  }

  // ---- opening ----------------------------------------------------------------------

  private async openInitial(): Promise<void> {
    try {
      await this.appender.open();
    } catch (err) {
      this.down('cannot open file', err);
      return;
    }
    this.rotation.reset();
    this.watcher.start();
    // With lines waiting, recovery is declared by the first successful write.
    if (this.pending() === 0) this.healthy();
  }

  /** The output cannot write now: report it (once per distinct problem) and retry with backoff. */
  private down(what: string, err: unknown): void {
    const code = errnoCode(err);
    const key = `${what}:${code}`;
    if (key !== this.problem) {
      this.problem = key;
      this.log.error(`${what}; retrying with backoff`, { path: this.path, code, err });
    }
    this.scheduleOpen(this.backoff.next());
  }

  private healthy(): void {
    this.lastWriteFailed = false;
    this.backoff.reset();
    if (this.problem !== null) {
      this.problem = null;
      this.log.info('file output recovered', { path: this.path });
    }
  }

  private scheduleOpen(delayMs: number): void {
    if (this.stopped) return;
    this.clearTimer('openTimer');
    this.openTimer = setTimeout(() => {
      this.openTimer = null;
      this.due.open = true;
      this.kick();
    }, delayMs);
    this.openTimer.unref();
  }

  /** Gives up a descriptor after an I/O error; the retry opens the path afresh. */
  private async fail(what: string, err: unknown): Promise<void> {
    await this.settleSync();
    this.lastWriteFailed = true;
    this.due.fsync = false;
    this.due.check = false;
    this.due.reopen = false;
    this.clearTimer('fsyncTimer');
    await this.appender.release();
    this.down(what, err);
  }

  // ---- rotation ---------------------------------------------------------------------

  private requestCheck(): void {
    if (!this.appender.isOpen || this.closing) return;
    this.due.check = true;
    this.kick();
  }

  private async checkRotation(file: OpenedFile): Promise<void> {
    switch (await this.rotation.check(file)) {
      case 'replaced':
        await this.swap(false, 'file replaced (rotated)');
        return;
      case 'deleted':
        await this.swap(true, 'file deleted; created it');
        return;
      case 'grace-over':
        await this.swap(true, 'no new file appeared within the grace period; created it');
        return;
      default:
        return;
    }
  }

  /**
   * Moves writing to the file now at the path (FileAppender.reopen: the old descriptor is
   * synced, unless fsync is `none`, and closed only after the new one is open).
   */
  private async swap(create: boolean, reason: string): Promise<void> {
    await this.settleSync();
    try {
      await this.appender.reopen(create, this.config.fsync !== 'none');
    } catch (err) {
      if (!create && isMissing(err)) {
        // Gone again between stat and open (another rotation): back to waiting.
        if (this.rotation.graceOver()) this.requestCheck();
        return;
      }
      await this.fail('cannot reopen file', err);
      return;
    }
    this.rotation.reset();
    // The folder may be a new one (deleted and recreated); a watch on the old one hears nothing.
    if (!this.stopped) this.watcher.restart();
    this.reopens.inc();
    this.log.info('reopened file', { path: this.path, reason });
  }

  // ---- writing ----------------------------------------------------------------------

  /** Takes everything buffered into the batch (after any lines kept from a failed write). */
  private takeBatch(): WriteBatch {
    const lines = this.buffered;
    this.buffered = [];
    if (this.inflight) {
      this.inflight.append(lines);
    } else {
      this.inflight = new WriteBatch(lines);
    }
    return this.inflight;
  }

  private async flush(): Promise<void> {
    const batch = this.takeBatch();
    const started = performance.now();
    let phase: 'write' | 'sync' = 'write';
    this.flushing = true;
    const taken = this.linesTaken;
    TRACE?.mark(MARK.writeStart, taken);
    try {
      while (batch.remaining > 0) {
        batch.advance(await this.appender.append(batch.unwritten()));
      }
      TRACE?.mark(MARK.writeDone, taken);
      if (this.config.fsync === 'always') {
        phase = 'sync';
        await this.appender.sync();
      } else {
        this.armFsync();
      }
    } catch (err) {
      this.flushing = false;
      this.meter.observeSend((performance.now() - started) / 1000);
      this.settle(batch, phase === 'sync' ? 'write_error' : null);
      await this.fail(phase === 'sync' ? 'fdatasync failed' : 'write failed', err);
      return;
    }
    this.flushing = false;
    this.meter.observeSend((performance.now() - started) / 1000);
    this.settle(batch, null);
    this.healthy();
  }

  /**
   * Accounts the lines a flush completed. `lostAs` is set when they reached the file but
   * their durability, explicitly asked for with fsync `always`, could not be confirmed;
   * they are not rewritten (that would duplicate them).
   */
  private settle(batch: WriteBatch, lostAs: 'write_error' | null): void {
    const done = batch.takeDone();
    if (lostAs) {
      this.meter.lost(lostAs, done.events);
      this.durable.lostNext(done.events);
    } else {
      this.meter.written(done.events, done.bytes);
      this.durable.written(done.events);
    }
    if (batch.remaining === 0) {
      this.inflight = null;
    } else if (this.stopped) {
      // Close gave up on this batch while it was being written.
      this.meter.lost('shutdown', batch.remaining);
      this.durable.lostNext(batch.remaining);
      this.inflight = null;
    }
    this.notifyRoom();
  }

  private armFsync(): void {
    // After the close deadline the final step syncs; no timer may outlive close().
    if (this.config.fsync !== 'interval' || this.fsyncTimer || this.stopped) return;
    this.fsyncTimer = setTimeout(() => {
      this.fsyncTimer = null;
      this.due.fsync = true;
      this.kick();
    }, this.config.fsyncIntervalMs);
    this.fsyncTimer.unref();
  }

  /** Starts the interval fdatasync beside the loop; a failure is handed back to the loop. */
  private startIntervalSync(): void {
    if (!this.appender.unsynced) return;
    TRACE?.mark(MARK.syncStart, 0);
    this.intervalSync = this.appender.sync().then(
      () => {
        TRACE?.mark(MARK.syncDone, 0);
        this.intervalSync = null;
        // A timer that fired meanwhile left `due.fsync` waiting for this one to end.
        if (this.due.fsync) this.kick();
      },
      (err: unknown) => {
        TRACE?.mark(MARK.syncDone, 0);
        this.intervalSync = null;
        this.syncError = { err };
        this.kick();
      },
    );
  }

  /** Waits for a running interval sync: the descriptor must not change under it. */
  private async settleSync(): Promise<void> {
    if (this.intervalSync) await this.intervalSync;
  }

  // ---- small helpers ------------------------------------------------------------------

  private clearTimer(which: 'openTimer' | 'fsyncTimer' | 'checkTimer'): void {
    const timer = this[which];
    if (timer) clearTimeout(timer);
    this[which] = null;
  }
}
