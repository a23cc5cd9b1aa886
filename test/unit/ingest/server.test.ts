/*
 * The ingest server with a stand-in recorder behind the real DraftIntake, or a stand-in
 * intake (mocks of our own code, allowed in unit tests): what it answers when the queue is
 * full, before and after reading the body, and what it hands the intake.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EventDraft, RecorderEvent } from '../../../src/events/event.js';
import { EventFactory } from '../../../src/events/factory.js';
import type { DurableOutcome, IngestSink } from '../../../src/events/sink.js';
import { IngestServer } from '../../../src/ingest/server.js';
import { silentLogger } from '../../../src/log.js';
import { Metrics } from '../../../src/metrics/registry.js';
import { DraftIntake } from '../../../src/recorder/intake.js';
import type { Recorder } from '../../../src/recorder/recorder.js';
import { configOf } from '../../helpers/config.js';
import { loadFixture } from '../../helpers/fixtures.js';
import { expectValidEvent } from '../../helpers/schema.js';
import { waitFor } from '../../helpers/wait.js';

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
    intake: new DraftIntake(recorder as Recorder, new EventFactory('unit')),
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
      unavailable: () => null,
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
      unavailable: () => null,
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

/** A stand-in recorder that takes everything (or refuses while `refuse` says so) and keeps it. */
function collecting(refuse: () => boolean = () => false): {
  recorder: Partial<Recorder>;
  events: RecorderEvent[];
} {
  const events: RecorderEvent[] = [];
  return {
    events,
    recorder: {
      full: false,
      capacity: 1000,
      accepted: 0,
      unavailable: () => null,
      // No `block` output stands behind this recorder: nothing to wait for.
      whenDurable: () => null,
      updateGauges: () => {},
      recordAll: (batch) => {
        if (refuse()) return 'queue_full';
        events.push(...batch);
        return 'accepted';
      },
    },
  };
}

const postTo = (base: string, path: string, body: string): Promise<Response> =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('ingest keeps what the sender sent', () => {
  it('answers 202 to an object of no known shape and records it as unrecognized, on both endpoints', async () => {
    const { recorder, events } = collecting();
    const base = await start('', recorder);
    const odd = { text: 'hello from a custom template' };
    const res = await postTo(base, '/api/v1/coroot', JSON.stringify(odd));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1 });
    const grafana = loadFixture('alertmanager/unrecognized-grafana-version-1.json');
    expect((await postTo(base, '/api/v1/alertmanager', JSON.stringify(grafana))).status).toBe(202);
    expect(events.map((e) => [e.source, e.type])).toEqual([
      ['coroot', 'unrecognized'],
      ['alertmanager', 'unrecognized'],
    ]);
    expect(events[0]?.data.raw).toEqual(odd);
    expect(events[1]?.data.raw).toEqual(grafana);
    for (const e of events) expectValidEvent(JSON.parse(JSON.stringify(e)));
  });

  it.each([
    ['not JSON', '{"status":'],
    ['an empty body', ''],
    ['JSON that is not an object', '"WARNING"'],
    ['an array holding a number', '[{"rule_name":"x"},1]'],
  ])('still answers 400 to %s', async (_, body) => {
    const { recorder, events } = collecting();
    const base = await start('', recorder);
    expect((await postTo(base, '/api/v1/coroot', body)).status).toBe(400);
    expect(events).toEqual([]);
  });
});

describe('ingest dedupe', () => {
  const alert = JSON.stringify(loadFixture('coroot/alert-firing-warning.json'));
  const scrapeCount = async (base: string, source: string): Promise<number> => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`coroot_event_recorder_events_deduplicated_total{source="${source}"}`));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };

  it('answers a second copy within the window with 202 and does not record it again (counted)', async () => {
    const { recorder, events } = collecting();
    const base = await start('', recorder);
    expect(await (await postTo(base, '/api/v1/coroot', alert)).json()).toEqual({ accepted: 1 });
    const again = await postTo(base, '/api/v1/coroot', alert);
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual({ accepted: 0, deduplicated: 1 });
    expect(events).toHaveLength(1);
    expect(await scrapeCount(base, 'coroot')).toBe(1);
  });

  it('does not remember a copy that was refused with 503: its retry is recorded', async () => {
    let refuse = true;
    const { recorder, events } = collecting(() => refuse);
    const base = await start('', recorder);
    expect((await postTo(base, '/api/v1/coroot', alert)).status).toBe(503);
    refuse = false;
    expect(await (await postTo(base, '/api/v1/coroot', alert)).json()).toEqual({ accepted: 1 });
    expect(events).toHaveLength(1);
  });

  it('with window: 0s keeps every copy', async () => {
    const { recorder, events } = collecting();
    const base = await start('dedupe: { window: 0s }\n', recorder);
    for (let i = 0; i < 3; i++) await postTo(base, '/api/v1/coroot', alert);
    expect(events).toHaveLength(3);
    expect(await scrapeCount(base, 'coroot')).toBe(0);
  });
});

describe('ingest hands drafts to the intake', () => {
  /** A stand-in intake: keeps what it is handed, and lets the test settle the durability wait. */
  function standInIntake(): {
    intake: IngestSink;
    handed: { drafts: readonly EventDraft[]; now: number | undefined }[];
    settle: (o: DurableOutcome) => void;
    waitedFor: number[];
  } {
    const handed: { drafts: readonly EventDraft[]; now: number | undefined }[] = [];
    const waitedFor: number[] = [];
    let settle: (o: DurableOutcome) => void = () => {};
    let accepted = 0;
    const intake: IngestSink = {
      full: false,
      capacity: 100,
      get accepted() {
        return accepted;
      },
      unavailable: () => null,
      whenDurable: (seq) => {
        waitedFor.push(seq);
        return new Promise((resolve) => {
          settle = resolve;
        });
      },
      dropped: () => {},
      updateGauges: () => {},
      acceptAll: (drafts, now) => {
        handed.push({ drafts, now });
        accepted += drafts.length;
        return 'accepted';
      },
    };
    return { intake, handed, settle: (o) => settle(o), waitedFor };
  }

  async function startWith(yaml: string, intake: IngestSink): Promise<string> {
    const config = configOf(yaml);
    server = new IngestServer({
      metrics: new Metrics('test', { defaultMetrics: false }),
      logger: silentLogger,
      intake,
      config: () => config,
      readiness: () => ({ ready: true }),
    });
    const addr = await server.listen('127.0.0.1', 0);
    return `http://127.0.0.1:${addr.port}`;
  }

  const alert = JSON.stringify(loadFixture('coroot/alert-firing-warning.json'));

  it('hands parsed drafts, unstamped, with the time it read them; a copy is deduplicated before the intake', async () => {
    const s = standInIntake();
    const base = await startWith('acknowledgements: false\n', s.intake);
    const before = Date.now();
    expect((await postTo(base, '/api/v1/coroot', alert)).status).toBe(202);
    expect(await (await postTo(base, '/api/v1/coroot', alert)).json()).toEqual({
      accepted: 0,
      deduplicated: 1,
    });
    expect(s.handed[0]?.drafts).toHaveLength(1);
    const draft = s.handed[0]?.drafts[0] as EventDraft & Record<string, unknown>;
    expect(draft.source).toBe('coroot');
    // The intake stamps: ingest hands no id, @timestamp or instance.
    expect(draft.id).toBeUndefined();
    expect(draft['@timestamp']).toBeUndefined();
    expect(draft.instance).toBeUndefined();
    expect(s.handed[0]?.now).toBeGreaterThanOrEqual(before);
    // The copy reached the intake as an empty hand-over, never as a second draft.
    expect(s.handed.slice(1).every((h) => h.drafts.length === 0)).toBe(true);
  });

  it('with acknowledgements: true answers 202 only once the intake says the events are durable', async () => {
    const s = standInIntake();
    const base = await startWith('acknowledgements: true\n', s.intake);
    let answered = false;
    const res = postTo(base, '/api/v1/coroot', alert).then((r) => {
      answered = true;
      return r;
    });
    await waitFor(() => s.waitedFor.length === 1);
    expect(s.waitedFor).toEqual([1]);
    expect(answered).toBe(false);
    s.settle('written');
    expect((await res).status).toBe(202);
  });

  it('with acknowledgements: true answers 503 when the intake says the events were lost', async () => {
    const s = standInIntake();
    const base = await startWith('acknowledgements: true\n', s.intake);
    const res = postTo(base, '/api/v1/coroot', alert);
    await waitFor(() => s.waitedFor.length === 1);
    s.settle('lost');
    const r = await res;
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
  });
});
