/*
 * One suite every registered output type passes (docs/architecture.md, "Adding an output
 * type"). Each type brings a fixture with real destinations (a directory, a node:http
 * receiver, the suite's Kafka broker); the checks are the output contract of
 * src/outputs/output.ts: the per-output invariant, `send` that never throws or waits, close
 * within its budget with exact `shutdown` counts, readiness, reload keep/replace, and drops
 * that are counted and logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecorderEvent } from '../../src/events/event.js';
import { serializeEvent } from '../../src/events/serialize.js';
import { Logger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/registry.js';
import type { Output } from '../../src/outputs/output.js';
import { createOutput, OUTPUT_TYPES, type OutputConfig } from '../../src/outputs/registry.js';
import { planReconcile } from '../../src/recorder/reconcile.js';
import { testAlertEvent } from '../helpers/events.js';
import { registrySum } from '../helpers/metrics.js';
import { waitFor } from '../helpers/wait.js';

export type OutputTypeName = OutputConfig['type'];

/** Somewhere an output of the type under test delivers to. */
export interface Destination {
  readonly config: OutputConfig;
  /** Events the destination holds now (lines in the file, events the receiver took, messages in the topic). */
  delivered(): Promise<number>;
}

export interface ConformanceFixture {
  /** Why this type cannot be checked here (printed), or null. */
  skipReason(): string | null;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /** A destination that takes every event. */
  reachable(name: string): Promise<Destination>;
  /** One that takes nothing and never fails fast: what is sent stays held. `capacity` is the output's own buffer bound. */
  holding(name: string, capacity: number): Promise<Destination>;
  /** One the output soon knows it cannot deliver to (readiness goes down). */
  failing(name: string): Promise<Destination>;
  /** The same output (same name) with a setting changed that needs a new output. */
  changed(config: OutputConfig): OutputConfig;
}

const VERSION = 'conformance';
const M = 'coroot_event_recorder_';

class Harness {
  readonly metrics = new Metrics(VERSION, { defaultMetrics: false });
  readonly logs: Array<Record<string, unknown>> = [];
  readonly logger = new Logger('debug', (line) =>
    this.logs.push(JSON.parse(line) as Record<string, unknown>),
  );
  readonly outputs: Output[] = [];
  private seq = 0;
  /** `send` calls per output name: what the output received. */
  readonly received = new Map<string, number>();

  create(config: OutputConfig): Output {
    const output = createOutput(config, { metrics: this.metrics, logger: this.logger, version: VERSION });
    this.outputs.push(output);
    return output;
  }

  /** Sends `n` new events; returns how many the output took. Checks that `send` answers at once with a boolean. */
  send(output: Output, n: number): number {
    let taken = 0;
    for (let i = 0; i < n; i++) {
      const event: RecorderEvent = testAlertEvent(this.seq++);
      const answer: unknown = output.send(serializeEvent(event), event);
      expect(typeof answer, 'send answers synchronously with a boolean, never a promise').toBe('boolean');
      this.received.set(output.name, (this.received.get(output.name) ?? 0) + 1);
      if (answer === true) taken++;
    }
    return taken;
  }

  async count(output: string, result: 'written' | 'failed' | 'dropped'): Promise<number> {
    return registrySum(this.metrics.registry, `${M}output_events_total`, { output, result });
  }

  async drops(output: string, reason: string): Promise<number> {
    return registrySum(this.metrics.registry, `${M}output_drops_total`, { output, reason });
  }

  /** received = written + failed + dropped + pending, for every output built from `name`. */
  async expectInvariant(
    name: string,
    pending: number,
  ): Promise<{ written: number; failed: number; dropped: number }> {
    const written = await this.count(name, 'written');
    const failed = await this.count(name, 'failed');
    const dropped = await this.count(name, 'dropped');
    expect(written + failed + dropped + pending, `invariant of ${name}`).toBe(this.received.get(name) ?? 0);
    return { written, failed, dropped };
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.outputs.map((o) => o.close(1000)));
  }
}

export function conformance(type: OutputTypeName, fixture: ConformanceFixture): void {
  const reason = fixture.skipReason();
  if (reason !== null) console.warn(`output conformance: ${type} skipped: ${reason}`);

  describe.skipIf(reason !== null)(`output conformance: ${type}`, () => {
    let h: Harness;
    let n = 0;
    const name = (what: string): string => `conformance-${type}-${what}-${n++}`;

    beforeAll(async () => {
      expect(OUTPUT_TYPES.map((t) => t.type)).toContain(type);
      await fixture.setup?.();
    });
    afterAll(async () => {
      await fixture.teardown?.();
    });
    const fresh = async (): Promise<Harness> => {
      await h?.closeAll();
      h = new Harness();
      return h;
    };
    afterAll(async () => {
      await h?.closeAll();
    });

    it('delivers every accepted event; received = written + failed + dropped + pending throughout', async () => {
      const h = await fresh();
      const dest = await fixture.reachable(name('deliver'));
      const output = h.create(dest.config);
      // Before start: taken and held, never lost.
      expect(h.send(output, 5)).toBe(5);
      await h.expectInvariant(output.name, output.pending());
      output.start();
      expect(h.send(output, 45)).toBe(45);
      await h.expectInvariant(output.name, output.pending());
      await waitFor(async () => (await h.count(output.name, 'written')) === 50, { what: '50 written' });
      expect(output.pending()).toBe(0);
      expect(await dest.delivered()).toBe(50);
      const gauge = await registrySum(h.metrics.registry, `${M}output_queue_length`, { output: output.name });
      expect(gauge).toBe(0);
      await output.close(5000);
      expect(await h.expectInvariant(output.name, output.pending())).toEqual({
        written: 50,
        failed: 0,
        dropped: 0,
      });
    });

    it('close delivers what it can within its budget, then counts the rest as shutdown, exactly once', async () => {
      const h = await fresh();
      const dest = await fixture.holding(name('close'), 100);
      const output = h.create(dest.config);
      output.start();
      expect(h.send(output, 20)).toBe(20);
      await h.expectInvariant(output.name, output.pending());
      const budgetMs = 300;
      const started = performance.now();
      await output.close(budgetMs);
      const took = performance.now() - started;
      // Releasing resources after the budget (a socket, a producer's disconnect) may add a little, never a wait on the destination.
      expect(took, 'close time').toBeLessThan(budgetMs + 2500);
      expect(output.pending()).toBe(0);
      expect(await h.drops(output.name, 'shutdown')).toBe(20);
      // Idempotent: a second close neither waits nor counts again.
      await output.close(budgetMs);
      expect(await h.drops(output.name, 'shutdown')).toBe(20);
      // After close: refused and counted as closed, still synchronously.
      expect(h.send(output, 3)).toBe(0);
      expect(await h.drops(output.name, 'closed')).toBe(3);
      await h.expectInvariant(output.name, 0);
      expect(await dest.delivered()).toBe(0);
    });

    it('readiness: up when the destination takes events, down when it cannot', async () => {
      const h = await fresh();
      const good = h.create((await fixture.reachable(name('up'))).config);
      good.start();
      h.send(good, 1);
      await waitFor(() => good.isUp(), { what: 'up' });
      const bad = h.create((await fixture.failing(name('down'))).config);
      bad.start();
      h.send(bad, 5);
      await waitFor(() => !bad.isUp(), { what: 'down', timeoutMs: 30_000 });
      const up = (output: Output) =>
        registrySum(h.metrics.registry, `${M}output_up`, { output: output.name });
      expect(await up(good)).toBe(1);
      expect(await up(bad)).toBe(0);
      await good.close(2000);
      expect(good.isUp()).toBe(false);
    });

    it('reload keeps an output whose config is equal and replaces one whose config changed', async () => {
      const h = await fresh();
      const dest = await fixture.reachable(name('reload'));
      const first = planReconcile([], [dest.config], (c) => h.create(c));
      const kept = planReconcile(first.next, [structuredClone(dest.config)], (c) => h.create(c));
      expect(kept.kept.map((r) => r.output)).toEqual([first.next[0]?.output]);
      expect(kept.added).toEqual([]);
      const changed = fixture.changed(dest.config);
      expect(changed.name).toBe(dest.config.name);
      const replaced = planReconcile(kept.next, [changed], (c) => h.create(c));
      expect(replaced.removed.map((r) => r.output)).toEqual([first.next[0]?.output]);
      expect(replaced.added).toHaveLength(1);
      expect(replaced.added[0]?.output).not.toBe(first.next[0]?.output);
      expect(replaced.added[0]?.output.name).toBe(dest.config.name);
    });

    it('a full buffer drops, counts buffer_full, and logs the output and how many (throttled)', async () => {
      const h = await fresh();
      const capacity = 10;
      const dest = await fixture.holding(name('full'), capacity);
      const output = h.create(dest.config);
      output.start();
      const taken = h.send(output, capacity + 25);
      expect(taken).toBeGreaterThanOrEqual(capacity);
      const dropped = capacity + 25 - taken;
      expect(dropped).toBeGreaterThan(0);
      expect(await h.drops(output.name, 'buffer_full')).toBe(dropped);
      await h.expectInvariant(output.name, output.pending());
      const warnings = h.logs.filter((l) => l.level === 'warn' && typeof l.dropped === 'number');
      // One line for the burst (the first drop), naming the output; the metric counts every drop.
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.output).toBe(output.name);
      expect(warnings[0]?.dropped).toBe(1);
      await output.close(0);
      await h.expectInvariant(output.name, output.pending());
    });
  });
}
