/*
 * The ingest server with a stand-in recorder (a mock of our own code, allowed in unit
 * tests): what it answers when the queue is full, before and after reading the body.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EventFactory } from '../../../src/events/factory.js';
import { IngestServer } from '../../../src/ingest/server.js';
import { silentLogger } from '../../../src/log.js';
import { Metrics } from '../../../src/metrics/registry.js';
import type { Recorder } from '../../../src/recorder/recorder.js';
import { configOf } from '../../helpers/config.js';
import { loadFixture } from '../../helpers/fixtures.js';

let server: IngestServer | null = null;
afterEach(() => {
  server?.close();
  server = null;
});

async function start(yaml: string, recorder: Partial<Recorder>): Promise<string> {
  const config = configOf(yaml);
  server = new IngestServer({
    metrics: new Metrics('test', { defaultMetrics: false }),
    logger: silentLogger,
    recorder: recorder as Recorder,
    factory: new EventFactory('unit'),
    config: () => config,
    readiness: () => ({ ready: true }),
  });
  const addr = await server.listen('127.0.0.1', 0);
  return `http://127.0.0.1:${addr.port}`;
}

const post = (base: string, body: string): Promise<Response> =>
  fetch(`${base}/api/v1/coroot`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('ingest with a full queue', () => {
  it('refuses with 503 before parsing the body (a broken body is not even looked at)', async () => {
    let recorded = 0;
    const base = await start('', {
      full: true,
      capacity: 1,
      recordAll: () => {
        recorded++;
        return 'queue_full';
      },
    });
    const res = await post(base, '{"not json');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toEqual({ error: 'queue full, retry later' });
    expect(recorded).toBe(0);
  });

  it('with on_queue_full: drop, parses the body to count what it drops', async () => {
    let dropped = 0;
    const base = await start('on_queue_full: drop\n', {
      full: true,
      capacity: 8,
      recordAll: () => 'queue_full',
      dropped: (_reason, n) => {
        dropped += n;
      },
    });
    expect((await post(base, '{"not json')).status).toBe(400);
    const res = await post(base, JSON.stringify(loadFixture('coroot/alert-firing-warning.json')));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 0, dropped: 1 });
    expect(dropped).toBe(1);
  });
});
