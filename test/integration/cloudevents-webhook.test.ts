/*
 * `format: cloudevents` on the webhook output, read by the CNCF CloudEvents SDK as the
 * receiver: a real node:http server on 127.0.0.1, the output built from config text through
 * the real config reader and the output registry. Every request must parse into CloudEvents
 * whose data is the event, with the event JSON sent byte for byte.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { type CloudEvent, HTTP } from 'cloudevents';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecorderEvent } from '../../src/events/event.js';
import { jsonOf, serializeEvent } from '../../src/events/serialize.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/registry.js';
import type { Output } from '../../src/outputs/output.js';
import { createOutput } from '../../src/outputs/registry.js';
import { expectCloudEventAttributes } from '../helpers/cloudevents.js';
import { configOf } from '../helpers/config.js';
import { testAlertEvent } from '../helpers/events.js';
import { waitFor } from '../helpers/wait.js';

interface Request {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const servers: Server[] = [];
const outputs: Output[] = [];
afterEach(async () => {
  await Promise.all(outputs.splice(0).map((o) => o.close(1000)));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function receiver(): Promise<{ url: string; requests: Request[] }> {
  const requests: Request[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/ce`, requests };
}

function webhookOutput(url: string, extra: string): Output {
  const config = configOf(
    `webhook_outputs:\n  - url: ${url}\n    workers: 1\n    format: cloudevents\n${extra}`,
  );
  const output = createOutput(config.outputs[0] as (typeof config.outputs)[number], {
    metrics: new Metrics('test', { defaultMetrics: false }),
    logger: silentLogger,
    version: 'test',
  });
  outputs.push(output);
  output.start();
  return output;
}

/** Events of several types and two instances, each with its serialized line. */
function events(n: number): Array<{ event: RecorderEvent; line: Buffer }> {
  return Array.from({ length: n }, (_, i) => {
    const base = testAlertEvent(i, {
      instance: i % 2 ? 'coroot-event-recorder-1' : 'coroot-event-recorder-0',
    });
    const event: RecorderEvent = { ...base, type: i % 3 === 0 ? 'alert_resolved' : 'alert_firing' };
    return { event, line: serializeEvent(event) };
  });
}

/** What the SDK makes of one request, as a receiver on the CloudEvents SDK would parse it. */
function parse(req: Request): CloudEvent<RecorderEvent>[] {
  const parsed = HTTP.toEvent({ headers: req.headers, body: req.body.toString('utf8') });
  return (Array.isArray(parsed) ? parsed : [parsed]) as CloudEvent<RecorderEvent>[];
}

describe('webhook output, format: cloudevents', () => {
  it('single events: binary content mode, the body is the event JSON as serialized', async () => {
    const rx = await receiver();
    const output = webhookOutput(rx.url, '');
    const sent = events(6);
    for (const s of sent) expect(output.send(s.line, s.event)).toBe(true);
    await waitFor(() => rx.requests.length === sent.length, { what: 'one request per event' });
    rx.requests.forEach((req, i) => {
      const s = sent[i] as (typeof sent)[number];
      expect(req.headers['content-type']).toBe('application/json');
      expect(req.headers['ce-specversion']).toBe('1.0');
      expect(req.body.equals(jsonOf(s.line))).toBe(true);
      const [ce] = parse(req);
      expectCloudEventAttributes(ce as CloudEvent<RecorderEvent>, s.event);
    });
  });

  it('batches: structured batch mode, each event its envelope’s data, within max_bytes', async () => {
    const rx = await receiver();
    const sent = events(25);
    // Room for about three events with their envelopes: batches are cut by bytes, not count.
    const envelope = sent[0] ? sent[0].line.length + 300 : 0;
    const maxBytes = envelope * 3;
    const output = webhookOutput(
      rx.url,
      `    batch: { max_events: 10, max_bytes: ${maxBytes}, flush_interval: 5ms }\n`,
    );
    for (const s of sent) expect(output.send(s.line, s.event)).toBe(true);
    await waitFor(() => rx.requests.reduce((n, r) => n + parse(r).length, 0) === sent.length, {
      what: 'every event in a batch',
    });
    const cloudEvents = rx.requests.flatMap((req) => {
      expect(req.headers['content-type']).toBe('application/cloudevents-batch+json');
      expect(req.body.length).toBeLessThanOrEqual(maxBytes);
      // The event JSON travels as serialized: no second encoding.
      for (const ce of parse(req)) {
        const s = sent.find((x) => x.event.id === ce.id);
        expect(s && req.body.includes(jsonOf(s.line))).toBe(true);
      }
      return parse(req);
    });
    // Cut by bytes (at most three envelopes fit), not by max_events.
    expect(rx.requests.length).toBeGreaterThanOrEqual(Math.ceil(sent.length / 3));
    cloudEvents.forEach((ce, i) => {
      expectCloudEventAttributes(ce, (sent[i] as (typeof sent)[number]).event);
    });
  });
});
