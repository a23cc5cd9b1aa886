import type { RecorderEvent } from '../events/event.js';
import type { Logger } from '../log.js';
import { Metrics } from '../metrics/registry.js';
import type { Output } from '../outputs/output.js';
import type { OutputConfig } from '../outputs/registry.js';
import { createOutput, definitionOf } from '../outputs/registry.js';

/** At most this many events in the output at once: enough for full batches, little memory. */
const MAX_WINDOW = 1024;

/** What became of the events handed to the output. */
export interface DeliveryOutcome {
  delivered: number;
  /** Everything not delivered: failed and dropped, whatever the reason. */
  failed: number;
  /** `failed` by the output's drop reason (`rejected`, `retries_exhausted`, `shutdown`, ...). */
  failedBy: Record<string, number>;
}

/**
 * Events the output may hold before its own buffer refuses more (which it would count as
 * `buffer_full` drops): replay keeps below it, so nothing is dropped for going too fast.
 */
export function outputCapacity(config: OutputConfig): number {
  return config.buffer.maxEvents;
}

/**
 * The output's config for replay, as its type's definition says (OutputDefinition.replay): a
 * delivering output gets a memory buffer in every case, never the daemon's disk buffer.
 */
export function replayConfig(config: OutputConfig): OutputConfig {
  return definitionOf(config.type).replay(config) as OutputConfig;
}

/**
 * One output built from its config, alone: its own metrics registry (whose counters tell
 * what was delivered and what failed), its own logger, nothing else of the daemon.
 * `send` waits while the output's backlog is at the window, so replay goes as fast as
 * the output delivers and never faster.
 */
export class ReplaySink {
  private readonly metrics: Metrics;
  private readonly output: Output;
  private readonly window: number;
  /** Events handed to the output. */
  handed = 0;

  constructor(
    private readonly config: OutputConfig,
    deps: { logger: Logger; version: string },
  ) {
    this.metrics = new Metrics(deps.version, { defaultMetrics: false });
    this.output = createOutput(replayConfig(config), {
      metrics: this.metrics,
      logger: deps.logger,
      version: deps.version,
    });
    this.window = Math.max(1, Math.min(MAX_WINDOW, outputCapacity(config)));
  }

  start(): void {
    this.output.start();
  }

  /** Events handed over and not yet delivered or given up. */
  pending(): number {
    return this.output.pending();
  }

  /**
   * Hands one event over once the output has room; false (not handed over) when `signal`
   * aborts the wait. A refusal by the output is counted by the output itself.
   */
  async send(line: Buffer, event: RecorderEvent, signal?: AbortSignal): Promise<boolean> {
    if (this.output.pending() >= this.window) {
      // Resume at half the window, so the output can form whole batches meanwhile.
      await this.output.whenPendingAtMost(this.window >> 1, signal);
      if (signal?.aborted) return false;
    }
    this.handed++;
    this.output.send(line, event);
    return true;
  }

  /**
   * Waits until everything handed over is delivered or given up (the output's retries run
   * their course), unless `signal` aborts first; then closes the output with `budgetMs` for
   * what is left, which it counts as `shutdown`.
   */
  async finish(budgetMs: number, signal?: AbortSignal): Promise<DeliveryOutcome> {
    // No time limit of its own, as before: the output's retries end (delivered or given up),
    // and the operator's interrupt aborts `signal`.
    await this.output.whenPendingAtMost(0, signal);
    await this.output.close(budgetMs);
    return this.outcome();
  }

  private async outcome(): Promise<DeliveryOutcome> {
    const name = this.config.name;
    const events = await this.metrics.outputEvents.get();
    const drops = await this.metrics.outputDrops.get();
    const outcome: DeliveryOutcome = { delivered: 0, failed: 0, failedBy: {} };
    for (const v of events.values) {
      if (v.labels.output !== name) continue;
      if (v.labels.result === 'written') outcome.delivered += v.value;
      else outcome.failed += v.value;
    }
    for (const v of drops.values) {
      if (v.labels.output !== name || v.value === 0) continue;
      const reason = String(v.labels.reason);
      outcome.failedBy[reason] = (outcome.failedBy[reason] ?? 0) + v.value;
    }
    return outcome;
  }
}
