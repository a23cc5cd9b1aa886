/*
 * The paced load generator of bench scenarios 4, 5 and 9 (test/bench/paced.ts) against a real
 * HTTP server standing in for the daemon: requests still unanswered when the grace period ends
 * are reported, and `requireComplete` refuses such a run like one with missing lines.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { requireComplete } from '../../bench/latency.bench.js';
import { PacedClient } from '../../bench/paced.js';
import { tempDir } from '../../helpers/daemon.js';

/**
 * Answers 202 to the requests numbered up to `answerUpTo`, after appending the request's body
 * as a line to `file` (its URL names the request, as the daemon's file output would); holds
 * the others unanswered until `release()`, which answers them and every later one 503.
 */
async function fakeDaemon(
  file: string,
  answerUpTo: number,
): Promise<{ url: string; held: ServerResponse[]; release: () => void; server: Server }> {
  const held: ServerResponse[] = [];
  let released = false;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = Number(/alert=bench(\d+)/.exec(body)?.[1]);
      if (released) {
        res.writeHead(503).end();
        return;
      }
      if (id > answerUpTo) {
        held.push(res);
        return;
      }
      appendFileSync(file, `${body}\n`);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const release = (): void => {
    released = true;
    for (const res of held.splice(0)) res.writeHead(503).end();
  };
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, held, release, server };
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function setup(answerUpTo: number): Promise<{ client: PacedClient; held: ServerResponse[] }> {
  const file = join(await tempDir('cer-paced-'), 'events.jsonl');
  writeFileSync(file, '');
  const { url, held, release, server } = await fakeDaemon(file, answerUpTo);
  const client = new PacedClient(url, file);
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  // Answered first, so the pool's close does not wait for held requests.
  cleanups.push(async () => {
    release();
    await client.close();
  });
  return { client, held };
}

describe('PacedClient', () => {
  it('reports requests still unanswered at the end of the grace period, and requireComplete refuses the run', async () => {
    const { client } = await setup(3);
    const f = await client.run(500, 0.02, 300);
    expect(f.sent).toBeGreaterThan(3);
    expect(f.unanswered).toBe(f.sent - 3);
    expect(f.missingLines).toBe(0);
    expect(f.non202 + f.errors).toBe(0);
    expect(() => requireComplete(f, 'test run')).toThrow(`${f.sent - 3} never answered`);
  });

  it('reports none when every request is answered and its line written', async () => {
    const { client } = await setup(Number.POSITIVE_INFINITY);
    const f = await client.run(500, 0.02, 10_000);
    expect(f.sent).toBeGreaterThan(0);
    expect(f.unanswered).toBe(0);
    expect(f.missingLines).toBe(0);
    expect(() => requireComplete(f, 'test run')).not.toThrow();
  });
});
