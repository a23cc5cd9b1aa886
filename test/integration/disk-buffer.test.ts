/*
 * Disk-buffered webhook output against a real HTTP receiver (docs/operations.md, "Disk
 * buffers"): events accepted while the receiver is down survive a graceful close and a
 * SIGKILL of the process holding them, and reach the receiver once it is back; retriable
 * failures never exhaust; a 4xx is still `rejected`; a second process cannot open the
 * same buffer.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { serializeEvent } from '../../src/events/serialize.js';
import { Logger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/registry.js';
import type { WebhookOutputConfig } from '../../src/outputs/webhook/config.js';
import { WebhookOutput } from '../../src/outputs/webhook/output.js';
import { parseConfigText } from '../../src/recorder-config/load.js';
import { ROOT, tempDir } from '../helpers/daemon.js';
import { feedAndKill } from '../helpers/disk-buffer.js';
import { testAlertEvent } from '../helpers/events.js';
import { registrySum } from '../helpers/metrics.js';
import { waitFor } from '../helpers/wait.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const P = 'coroot_event_recorder_';

/** The `extra.seq` numbers (testAlertEvent) of the events a receiver accepted. */
function seqs(receiver: WebhookReceiver): Set<unknown> {
  return receiver.distinct((e) => e.data?.alert?.extra?.seq);
}

function diskWebhookConfig(url: string): WebhookOutputConfig {
  const doc = {
    webhook_outputs: [
      {
        url,
        name: 'hook',
        retry_backoff: '10ms',
        max_backoff: '100ms',
        max_attempts: 2,
        timeout: '2s',
        batch: { max_events: 50 },
      },
    ],
  };
  const r = parseConfigText(JSON.stringify(doc), join(ROOT, 'test.yaml'), {});
  if (!r.ok) throw new Error(r.issues.map(String).join('\n'));
  const config = r.config.outputs[0] as WebhookOutputConfig;
  config.buffer = {
    ...config.buffer,
    type: 'disk',
    maxEvents: 1024,
    maxSize: 64 * 1024 * 1024,
    sync: 'normal',
    flushIntervalMs: 100,
  };
  return config;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

function output(config: WebhookOutputConfig, dataDir: string, metrics = new Metrics('test')): WebhookOutput {
  const out = new WebhookOutput(config, { metrics, logger: new Logger('error'), version: 'test', dataDir });
  out.start();
  cleanups.push(() => out.close(0));
  return out;
}

function sendRange(out: WebhookOutput, from: number, to: number): number {
  let taken = 0;
  for (let i = from; i < to; i++) {
    const event = testAlertEvent(i);
    if (out.send(serializeEvent(event), event)) taken++;
  }
  return taken;
}

describe('disk-buffered webhook output', () => {
  it('keeps 2000 events through an outage and a graceful close, then delivers every one', async () => {
    const receiver = await WebhookReceiver.start(503);
    cleanups.push(() => receiver.stop());
    const { url } = receiver;
    const dataDir = await tempDir('cer-diskhook-');
    const config = diskWebhookConfig(url);
    const metrics = new Metrics('test');
    const first = output(config, dataDir, metrics);
    expect(sendRange(first, 0, 2000)).toBe(2000);
    // Far more failures than max_attempts: a disk buffer retries forever.
    await waitFor(() => receiver.requests >= 10, { what: 'retries against the 503 receiver' });
    const t0 = performance.now();
    await first.close(30_000);
    // SIGTERM must not wait for a receiver that is down.
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(await registrySum(metrics.registry, `${P}output_drops_total`)).toBe(0);
    expect(receiver.events).toEqual([]);

    receiver.status = 200;
    const second = output(config, dataDir);
    await waitFor(() => seqs(receiver).size === 2000, { timeoutMs: 30_000, what: 'all 2000 events' });
    await waitFor(() => second.pending() === 0, { what: 'buffer drained' });
  });

  it('keeps what a SIGKILLed process committed and delivers it after the restart', async () => {
    const receiver = await WebhookReceiver.start(503);
    cleanups.push(() => receiver.stop());
    const { url } = receiver;
    const dataDir = await tempDir('cer-diskhook-');
    const config = diskWebhookConfig(url);
    await feedAndKill('webhook', config, dataDir, 2000);

    // The killed process's lock is stale: this process takes the buffer over.
    receiver.status = 200;
    output(config, dataDir);
    await waitFor(() => seqs(receiver).size === 2000, {
      timeoutMs: 30_000,
      what: 'all 2000 events after kill -9',
    });
  });

  it('counts a 4xx as rejected (not retried)', async () => {
    const receiver = await WebhookReceiver.start(400);
    cleanups.push(() => receiver.stop());
    const { url } = receiver;
    const dataDir = await tempDir('cer-diskhook-');
    const config = diskWebhookConfig(url);
    const metrics = new Metrics('test');
    const out = output(config, dataDir, metrics);
    sendRange(out, 0, 10);
    await waitFor(
      async () =>
        (await registrySum(metrics.registry, `${P}output_drops_total`, { reason: 'rejected' })) === 10,
      {
        what: 'rejected counted',
      },
    );
    expect(out.pending()).toBe(0);
  });
});
