import { readFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serializeEvent } from '../../../src/events/serialize.js';
import { silentLogger } from '../../../src/log.js';
import { ReplaySink, replayConfig } from '../../../src/replay/sink.js';
import { configOf, fileOutputConfig, outputOf } from '../../helpers/config.js';
import { tempDir } from '../../helpers/daemon.js';
import { testAlertEvent } from '../../helpers/events.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * A webhook receiver that holds every request unanswered until `release()`; after that it
 * answers each at once with 200. It counts the events it answered.
 */
class HeldReceiver {
  received = 0;
  delivered = 0;
  private held: Array<{ res: ServerResponse; events: number }> = [];
  private holding = true;
  private readonly server: Server;
  url = '';

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        const events = Array.isArray(body) ? body.length : 1;
        this.received += events;
        if (this.holding) this.held.push({ res, events });
        else this.answer(res, events);
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  release(): void {
    this.holding = false;
    for (const { res, events } of this.held.splice(0)) this.answer(res, events);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private answer(res: ServerResponse, events: number): void {
    res.once('finish', () => {
      this.delivered += events;
    });
    res.writeHead(200).end();
  }
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function heldReceiver(): Promise<HeldReceiver> {
  const rx = new HeldReceiver();
  await rx.start();
  cleanups.push(() => rx.stop());
  return rx;
}

function webhookSink(url: string, maxEvents = 1000): ReplaySink {
  const config = outputOf(
    'webhook',
    `webhook_outputs:\n  - url: ${url}\n    workers: 2\n    buffer: { max_events: ${maxEvents} }\n`,
  );
  const sink = new ReplaySink(config, { logger: silentLogger, version: 'test' });
  sink.start();
  cleanups.push(() => sink.finish(0, AbortSignal.abort()));
  return sink;
}

async function sendAll(sink: ReplaySink, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    const event = testAlertEvent(i);
    expect(await sink.send(serializeEvent(event), event)).toBe(true);
  }
}

/** Whether `p` is still unsettled once the I/O queued so far has run. */
async function stillPending(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void p.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((r) => setImmediate(r));
  return !settled;
}

describe('replay sink', () => {
  it('gives a delivering output a memory buffer, never the daemon’s disk buffer', () => {
    const config = configOf(
      'webhook_outputs:\n  - url: http://127.0.0.1:1/x\n    buffer: { max_events: 300 }\nkafka_outputs:\n  - brokers: [k:9092]\n    topic: t\n    buffer: { max_events: 50 }\nfile_outputs:\n  - path: /tmp/x.jsonl\n',
    );
    const disk = {
      type: 'disk' as const,
      maxEvents: 10,
      maxSize: 1 << 30,
      sync: 'normal' as const,
      flushIntervalMs: 500,
    };
    const of = (type: string) => {
      const o = config.outputs.find((x) => x.type === type) as (typeof config.outputs)[number];
      return o.type === 'file' ? o : { ...o, buffer: disk };
    };
    const [hook, bus, file] = [of('webhook'), of('kafka'), of('file')];
    expect(replayConfig(hook as never)).toMatchObject({ buffer: { type: 'memory', maxEvents: 10 } });
    expect(replayConfig(bus as never)).toMatchObject({ buffer: { type: 'memory', maxEvents: 10 } });
    expect(replayConfig(file as never)).toBe(file);
  });

  it('finish waits for a slow output to drain before closing it (no close budget needed)', async () => {
    const rx = await heldReceiver();
    const sink = webhookSink(rx.url);
    await sendAll(sink, 0, 20);
    // A close budget of 0: whatever the output still holds when the sink closes it is lost
    // as `shutdown`, so every event delivered proves the sink waited for the drain.
    const finishing = sink.finish(0);
    await waitFor(() => rx.received > 0, { what: 'the first request at the receiver' });
    expect(await stillPending(finishing)).toBe(true);
    expect(rx.delivered).toBe(0);
    rx.release();
    const outcome = await finishing;
    expect(rx.delivered).toBe(20);
    expect(outcome).toEqual({ delivered: 20, failed: 0, failedBy: {} });
    expect(sink.pending()).toBe(0);
  });

  it('send holds back at the window until the output has delivered half of it', async () => {
    const rx = await heldReceiver();
    const sink = webhookSink(rx.url, 8);
    await sendAll(sink, 0, 8);
    const event = testAlertEvent(8);
    const ninth = sink.send(serializeEvent(event), event);
    await waitFor(() => rx.received > 0, { what: 'the first request at the receiver' });
    expect(await stillPending(ninth)).toBe(true);
    expect(sink.handed).toBe(8);
    rx.release();
    expect(await ninth).toBe(true);
    expect(sink.handed).toBe(9);
    expect(await sink.finish(0)).toEqual({ delivered: 9, failed: 0, failedBy: {} });
  });

  it('an interrupt ends the wait for a stuck output; what it held counts as shutdown', async () => {
    const rx = await heldReceiver();
    const sink = webhookSink(rx.url);
    await sendAll(sink, 0, 5);
    const ctrl = new AbortController();
    const finishing = sink.finish(0, ctrl.signal);
    await waitFor(() => rx.received > 0, { what: 'the first request at the receiver' });
    expect(await stillPending(finishing)).toBe(true);
    ctrl.abort();
    const outcome = await finishing;
    expect(outcome.delivered).toBe(0);
    expect(outcome.failedBy).toEqual({ shutdown: 5 });
  });

  it('finish waits for the file output to write every line before closing it', async () => {
    const dir = await tempDir('cer-replay-sink-');
    const path = join(dir, 'out.jsonl');
    const sink = new ReplaySink(fileOutputConfig('file', path), { logger: silentLogger, version: 'test' });
    sink.start();
    await sendAll(sink, 0, 500);
    expect(await sink.finish(0)).toEqual({ delivered: 500, failed: 0, failedBy: {} });
    const lines = (await readFile(path, 'utf8')).split('\n').filter(Boolean);
    expect(lines).toHaveLength(500);
  });
});
