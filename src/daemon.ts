import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { CorootApiConfig } from './config/coroot-api.js';
import { canonicalJson, sameConfig } from './config/equality.js';
import { ConfigWatcher } from './config/watcher.js';
import type { EventType } from './events/event.js';
import { EventFactory } from './events/factory.js';
import { lifecycleDraft } from './events/lifecycle.js';
import { CorootApiPoller } from './ingest/coroot-api/poller.js';
import { IngestServer, type Readiness, type ReloadOutcome } from './ingest/server.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics/registry.js';
import { bufferDir } from './outputs/delivery/disk/dir-name.js';
import { warnIfOversubscribed } from './outputs/delivery/open-buffer.js';
import type { Output } from './outputs/output.js';
import { createOutput } from './outputs/registry.js';
import { DraftIntake } from './recorder/intake.js';
import { planReconcile, type RunningOutput } from './recorder/reconcile.js';
import { Recorder } from './recorder/recorder.js';
import { loadConfigFile } from './recorder-config/load.js';
import type { ListenAddress, RecorderConfig } from './recorder-config/schema.js';

export interface DaemonOptions {
  config: RecorderConfig;
  logger: Logger;
  version: string;
  /** `--listen-address`: wins over the config file, now and at every reload. */
  listenOverride?: ListenAddress;
  /** Watch the config file (and `*_file` files) and reload on change; default true. */
  watchConfig?: boolean;
}

export type ReloadTrigger = 'watch' | 'signal' | 'http';

/**
 * The hash load.ts gives a zero-byte file. An in-place writer truncates before it writes,
 * and a reload in between would read a valid config with no outputs at all.
 */
const EMPTY_FILE_HASH = createHash('sha256').update('').digest('hex').slice(0, 16);

/** What a reload compares to decide whether anything changed on disk (secrets included). */
function loadedIdentity(config: RecorderConfig): string {
  return canonicalJson({ ...config, file: '' });
}

/**
 * Wires config, recorder, outputs and the HTTP server together and owns their lifecycle:
 * start, shutdown with a drain budget, file reopen. The CLI only parses flags and
 * forwards signals here.
 */
export class Daemon {
  readonly metrics: Metrics;
  readonly recorder: Recorder;
  readonly factory: EventFactory;
  /** Where ingest and the daemon hand drafts: stamped by `factory`, queued by `recorder`. */
  private readonly intake: DraftIntake;
  private readonly server: IngestServer;
  private config: RecorderConfig;
  private running: RunningOutput[] = [];
  /** Outputs removed by a reload that are still draining in the background. */
  private readonly retiring = new Set<Promise<void>>();
  private started = false;
  private stopping: Promise<void> | null = null;
  private boundAddress: AddressInfo | null = null;
  private reloadChain: Promise<unknown> = Promise.resolve();
  private lastLoaded: string;
  private readonly watcher: ConfigWatcher | null;
  /** Coroot API pollers by `<url> <project>` (unique per config). */
  private pollers = new Map<string, CorootApiPoller>();
  /** Pollers being stopped by a reload: shutdown waits for them too. */
  private readonly stoppingPollers = new Set<Promise<void>>();

  private constructor(private readonly opts: DaemonOptions) {
    this.config = opts.config;
    this.metrics = new Metrics(opts.version);
    this.recorder = new Recorder(
      opts.config.queueSize,
      this.metrics,
      opts.logger.child({ component: 'recorder' }),
    );
    this.factory = new EventFactory(opts.config.instance);
    this.intake = new DraftIntake(this.recorder, this.factory);
    this.server = new IngestServer({
      metrics: this.metrics,
      logger: opts.logger.child({ component: 'ingest' }),
      intake: this.intake,
      config: () => this.config,
      readiness: () => this.readiness(),
      reload: () => this.reload('http'),
    });
    this.lastLoaded = loadedIdentity(opts.config);
    this.watcher =
      opts.watchConfig === false
        ? null
        : new ConfigWatcher(
            () => void this.reload('watch'),
            opts.logger.child({ component: 'config-watcher' }),
          );
    this.metrics.configLastReloadSuccessful.set(1);
    this.metrics.configLastReloadSuccessTimestamp.set(Date.now() / 1000);
  }

  /** Starts outputs (in the background), then the listener; rejects only if the listener cannot bind. */
  static async start(opts: DaemonOptions): Promise<Daemon> {
    const daemon = new Daemon(opts);
    await daemon.startInternal();
    return daemon;
  }

  get address(): AddressInfo {
    if (!this.boundAddress) throw new Error('not listening');
    return this.boundAddress;
  }

  private async startInternal(): Promise<void> {
    const { logger } = this.opts;
    const { dataDir } = this.config;
    if (dataDir !== null) {
      const diskSizes = this.config.outputs.flatMap((o) =>
        'buffer' in o && o.buffer.type === 'disk' ? [o.buffer.maxSize] : [],
      );
      warnIfOversubscribed(dataDir, diskSizes, logger);
    }
    const plan = planReconcile([], this.config.outputs, (c) => this.createOutput(c, dataDir));
    for (const slot of plan.added) slot.output.start();
    this.running = plan.next;
    this.recorder.swapOutputs(plan.next);
    const listen = this.opts.listenOverride ?? this.config.listenAddress;
    try {
      this.boundAddress = await this.server.listen(listen.host, listen.port);
    } catch (err) {
      await Promise.all(this.running.map((r) => r.output.close(0)));
      throw new Error(`cannot listen on ${listen.host}:${listen.port}: ${(err as Error).message}`);
    }
    this.started = true;
    this.watcher?.watchFiles([this.config.file, ...this.config.referencedFiles]);
    this.recordLifecycle('recorder_started');
    // After the outputs (their events have somewhere to go) and recorder_started (which comes first).
    for (const c of this.config.ingest.corootApi) this.startPoller(c);
    logger.info('coroot-event-recorder started', {
      version: this.opts.version,
      listen: `${this.boundAddress.address}:${this.boundAddress.port}`,
      scheme: this.server.scheme,
      config: this.config.file,
      config_hash: this.config.hash,
      outputs: this.running.map((r) => r.output.name),
      queue_size: this.config.queueSize,
    });
  }

  private createOutput(config: RecorderConfig['outputs'][number], dataDir: string | null): Output {
    return createOutput(config, {
      metrics: this.metrics,
      logger: this.opts.logger.child({ output: config.name }),
      version: this.opts.version,
      // An output kept by a reload keeps the folder it opened.
      dataDir,
    });
  }

  readiness(): Readiness {
    if (!this.started) return { ready: false, reason: 'starting' };
    if (this.stopping) return { ready: false, reason: 'shutting down' };
    if (this.running.length === 0) return { ready: false, reason: 'no outputs configured' };
    // The same check ingest makes: while it answers 503 for this output, readiness says so too.
    const blocked = this.recorder.unavailable();
    if (blocked) return { ready: false, reason: `output ${blocked.name} cannot write (when_full: block)` };
    for (const r of this.running) {
      const problem = r.output.bufferProblem?.() ?? null;
      if (problem !== null)
        return { ready: false, reason: `output ${r.output.name}: disk buffer cannot write (${problem})` };
    }
    if (!this.running.some((r) => r.output.isUp())) return { ready: false, reason: 'no output can deliver' };
    return { ready: true };
  }

  /**
   * Reloads the config file (docs/configuration.md "Reload"). Triggers are serialized; an invalid file
   * leaves everything as it is. A watch-triggered reload of unchanged content does nothing.
   */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    // A throw (an output constructor refusing its config) must reach the caller as a
    // failed reload, not as a rejection: SIGHUP and the watcher do not await it.
    const next = this.reloadChain
      .then(() => this.reloadOnce(trigger))
      .catch((err: unknown): ReloadOutcome => {
        this.metrics.configLastReloadSuccessful.set(0);
        this.opts.logger.error('config reload failed; keeping the running config', { trigger, err });
        return { ok: false, error: err instanceof Error ? err.message : String(err) };
      });
    this.reloadChain = next;
    return next;
  }

  private async reloadOnce(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const { logger } = this.opts;
    if (this.stopping) return { ok: false, error: 'shutting down' };
    const loaded = await loadConfigFile(this.config.file);
    if (this.stopping) return { ok: false, error: 'shutting down' };
    // Empty is fine at startup (every default) but, replacing a running config, it is far
    // more likely a write caught half-way than a wish to drop every output. The writer's
    // next change triggers another reload.
    const errors = !loaded.ok
      ? loaded.issues.map(String)
      : loaded.config.hash === EMPTY_FILE_HASH
        ? [
            `${loaded.config.file}: the file is empty (a write in progress?); an empty config would remove every output`,
          ]
        : [];
    if (!loaded.ok || errors.length > 0) {
      this.metrics.configLastReloadSuccessful.set(0);
      logger.error('config reload failed; keeping the running config', { trigger, errors });
      return { ok: false, error: errors.join('; ') };
    }
    const next = loaded.config;
    const identity = loadedIdentity(next);
    if (trigger === 'watch' && identity === this.lastLoaded) {
      logger.debug('config files changed on disk but their content did not', { trigger });
      // Still a successful load: after a broken edit is reverted to the running content,
      // nothing needs reconciling but the metric must stop reporting the failure.
      this.markReloadSuccessful();
      return { ok: true };
    }
    this.keepRestartOnlySettings(next);

    const plan = planReconcile(this.running, next.outputs, (c) => this.createOutput(c, next.dataDir));
    for (const slot of plan.added) slot.output.start();
    // The swap happens between two events: what was queued goes to the old set first.
    this.recorder.swapOutputs(plan.next);
    // Only once applied: a reload that threw before this point must not make the next
    // watch event on the same content look like a no-op.
    this.lastLoaded = identity;
    this.running = plan.next;
    const previousDataDir = this.config.dataDir;
    this.config = next;
    this.factory.instance = next.instance;
    if (this.server.reconfigure(next.server)) logger.info('server TLS certificate reloaded', { trigger });
    for (const r of plan.removed) {
      this.retire(r);
      this.noteLeftBuffer(r, previousDataDir);
    }
    this.watcher?.watchFiles([next.file, ...next.referencedFiles]);
    await this.reconcilePollers(next.ingest.corootApi);

    this.markReloadSuccessful();
    const names = (list: RunningOutput[]): string[] => list.map((r) => r.output.name);
    const draft = lifecycleDraft('config_reloaded', next.instance, {
      version: this.opts.version,
      configHash: next.hash,
      outputs: names(plan.next),
      added: names(plan.added),
      removed: names(plan.removed),
      kept: names(plan.kept),
      reason: trigger,
    });
    this.intake.record(draft);
    logger.info('config reloaded', {
      trigger,
      config_hash: next.hash,
      added: names(plan.added),
      removed: names(plan.removed),
      kept: names(plan.kept),
    });
    return { ok: true };
  }

  private markReloadSuccessful(): void {
    this.metrics.configLastReloadSuccessful.set(1);
    this.metrics.configLastReloadSuccessTimestamp.set(Date.now() / 1000);
  }

  /**
   * `listen_address`, `queue_size` and the listener's TLS mode are bound at start: a change is
   * logged and waits for a restart.
   */
  private keepRestartOnlySettings(next: RecorderConfig): void {
    const { logger } = this.opts;
    if (!this.opts.listenOverride && !sameConfig(next.listenAddress, this.config.listenAddress)) {
      logger.warn('listen_address changed; needs restart, keeping the running value', {
        running: `${this.config.listenAddress.host}:${this.config.listenAddress.port}`,
        configured: `${next.listenAddress.host}:${next.listenAddress.port}`,
      });
    }
    if (next.queueSize !== this.config.queueSize) {
      logger.warn('queue_size changed; needs restart, keeping the running value', {
        running: this.config.queueSize,
        configured: next.queueSize,
      });
    }
    const tlsMode = (c: RecorderConfig): string =>
      c.server.tls === null
        ? 'http'
        : c.server.tls.clientCa === null
          ? 'https'
          : 'https with client certificates';
    if (tlsMode(next) !== tlsMode(this.config)) {
      // An http listener cannot start speaking TLS, nor a TLS one start asking for client certificates.
      logger.warn('server.tls changed the listener mode; needs restart, keeping the running mode', {
        running: tlsMode(this.config),
        configured: tlsMode(next),
      });
      next.server.tls = this.config.server.tls;
    }
    next.listenAddress = this.config.listenAddress;
    next.queueSize = this.config.queueSize;
  }

  /**
   * A removed output's disk buffer folder stays as it is (an output of the same name, added
   * back later, picks its events up); the operator learns where it is and may delete it.
   */
  private noteLeftBuffer(r: RunningOutput, dataDir: string | null): void {
    if (dataDir === null || !('buffer' in r.config) || r.config.buffer.type !== 'disk') return;
    this.opts.logger.info('output removed; its disk buffer folder is left in place', {
      output: r.output.name,
      dir: bufferDir(dataDir, r.output.name),
    });
  }

  /** Drains a removed output in the background within `shutdown_timeout`; the write loop never waits on it. */
  private retire(r: RunningOutput): void {
    const done: Promise<void> = r.output
      .close(this.config.shutdownTimeoutMs)
      .catch((err: unknown) =>
        this.opts.logger.error('closing a removed output failed', { output: r.output.name, err }),
      )
      .finally(() => {
        // The output gauges follow it out on their own (read at scrape time from live outputs).
        this.retiring.delete(done);
      });
    this.retiring.add(done);
  }

  private startPoller(config: CorootApiConfig): void {
    const poller = new CorootApiPoller(config, {
      sink: this.intake,
      metrics: this.metrics,
      logger: this.opts.logger,
      version: this.opts.version,
    });
    this.pollers.set(pollerKey(config), poller);
    poller.start();
  }

  private stopPoller(key: string, poller: CorootApiPoller): Promise<void> {
    this.pollers.delete(key);
    const done = poller.stop().finally(() => this.stoppingPollers.delete(done));
    this.stoppingPollers.add(done);
    return done;
  }

  /**
   * Keeps pollers whose config is equal (no re-login, no re-read of the state file),
   * stops removed and changed ones, then starts new and changed ones. Stopping comes
   * first because a changed poller's successor reads the state file it writes.
   */
  private async reconcilePollers(next: readonly CorootApiConfig[]): Promise<void> {
    const wanted = new Map(next.map((c) => [pollerKey(c), c]));
    const stops: Promise<void>[] = [];
    for (const [key, poller] of [...this.pollers]) {
      const config = wanted.get(key);
      if (config !== undefined && sameConfig(config, poller.config)) continue;
      stops.push(this.stopPoller(key, poller));
    }
    await Promise.all(stops);
    if (this.stopping) return;
    const started: string[] = [];
    for (const [key, config] of wanted) {
      if (this.pollers.has(key)) continue;
      this.startPoller(config);
      started.push(key);
    }
    if (stops.length > 0 || started.length > 0) {
      this.opts.logger.info('coroot api pollers reconciled', {
        stopped: stops.length,
        started,
        kept: this.pollers.size - started.length,
      });
    }
  }

  /** Events an output name has lost so far, every reason (`output_drops_total`, summed). */
  private lostBy(output: string): number {
    return this.metrics.lostByOutput.get(output) ?? 0;
  }

  /** SIGUSR1: reopen every file (logrotate's postrotate convention). */
  reopenFiles(): void {
    for (const r of this.running) r.output.reopen?.();
  }

  private recordLifecycle(
    type: Extract<EventType, 'recorder_started' | 'recorder_stopped'>,
    reason?: string,
  ): void {
    const draft = lifecycleDraft(type, this.config.instance, {
      version: this.opts.version,
      configHash: this.config.hash,
      outputs: this.running.map((r) => r.output.name),
      ...(reason ? { reason } : {}),
    });
    this.intake.record(draft);
  }

  /**
   * Graceful stop: refuse new requests (503, listener closed), record `recorder_stopped`,
   * hand every queued event to the outputs, then let each output drain within what is
   * left of `shutdown_timeout`. Idempotent.
   */
  stop(reason = 'shutdown'): Promise<void> {
    this.stopping ??= this.stopInternal(reason);
    return this.stopping;
  }

  private async stopInternal(reason: string): Promise<void> {
    const { logger } = this.opts;
    const deadline = Date.now() + this.config.shutdownTimeoutMs;
    logger.info('shutting down', {
      reason,
      queued: this.recorder.length,
      budget_ms: this.config.shutdownTimeoutMs,
    });
    // Pollers first: what they fetched is recorded before the queue stops taking events.
    await Promise.all([
      ...[...this.pollers].map(([key, poller]) => this.stopPoller(key, poller)),
      ...this.stoppingPollers,
    ]);
    this.server.stopAccepting();
    await this.watcher?.close();
    if (this.started) this.recordLifecycle('recorder_stopped', reason);
    this.recorder.stopAccepting();
    this.recorder.drainNow();
    const budget = (): number => Math.max(0, deadline - Date.now());
    // What each output has lost before its drain: the difference afterwards is the drain's loss.
    const lostBefore = new Map(this.running.map((r) => [r.output.name, this.lostBy(r.output.name)]));
    await Promise.all([...this.running.map((r) => r.output.close(budget())), ...this.retiring]);
    this.recorder.stopWaiting();
    this.server.close();
    const lost: Record<string, number> = {};
    let total = 0;
    for (const r of this.running) {
      const n = this.lostBy(r.output.name) - (lostBefore.get(r.output.name) ?? 0) + r.output.pending();
      lost[r.output.name] = n;
      total += n;
    }
    logger.info('stopped', { reason, lost_in_shutdown: total, lost_by_output: lost });
  }
}

function pollerKey(config: CorootApiConfig): string {
  return `${config.url} ${config.project}`;
}
