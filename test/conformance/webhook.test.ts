import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebhookOutputConfig } from '../../src/outputs/webhook/config.js';
import { parseConfigText } from '../../src/recorder-config/load.js';
import { conformance } from './suite.js';

let accepted = 0;
/** Answers 200 and counts the events of each body (an array when batched). */
const ok = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    accepted += Array.isArray(value) ? value.length : 1;
    res.writeHead(200).end();
  });
});
/** Takes requests and never answers: what is sent stays in flight or queued. */
const hanging = createServer(() => {});
let refusedPort = 0;

const urlOf = (server: Server): string =>
  `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;

function config(name: string, url: string, extra: Record<string, unknown> = {}): WebhookOutputConfig {
  const doc = {
    webhook_outputs: [{ name, url, retry_backoff: '10ms', max_backoff: '50ms', timeout: '30s', ...extra }],
  };
  const r = parseConfigText(JSON.stringify(doc), join(tmpdir(), 'conformance-webhook.yaml'));
  if (!r.ok) throw new Error(r.issues.map(String).join('\n'));
  return r.config.outputs[0] as WebhookOutputConfig;
}

conformance('webhook', {
  skipReason: () => null,
  async setup() {
    for (const server of [ok, hanging]) await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    // A port nothing listens on: bound once, then released.
    const probe = createNetServer();
    await new Promise<void>((res) => probe.listen(0, '127.0.0.1', res));
    refusedPort = (probe.address() as { port: number }).port;
    await new Promise((res) => probe.close(res));
  },
  async teardown() {
    for (const server of [ok, hanging]) {
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
    }
  },
  async reachable(name) {
    const before = accepted;
    return { config: config(name, urlOf(ok)), delivered: async () => accepted - before };
  },
  async holding(name, capacity) {
    return {
      config: config(name, urlOf(hanging), { buffer: { max_events: capacity }, workers: 1 }),
      delivered: async () => 0,
    };
  },
  async failing(name) {
    return {
      config: config(name, `http://127.0.0.1:${refusedPort}/hook`, { max_attempts: 1000, timeout: '1s' }),
      delivered: async () => 0,
    };
  },
  changed(c) {
    const webhook = c as WebhookOutputConfig;
    return { ...webhook, workers: webhook.workers + 1 };
  },
});
