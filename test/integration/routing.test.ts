/*
 * Per-output routing (docs/configuration.md "Filters"): a file output that takes only alert_firing from
 * Alertmanager, one with a severity floor, and one that takes everything, side by side.
 * What an output filters out is neither written nor counted as a drop.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, type RunningDaemon, startDaemon } from '../helpers/daemon.js';
import { loadFixture } from '../helpers/fixtures.js';
import { parsePromText, sampleSum, scrape } from '../helpers/metrics.js';
import { readEvents } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';

const M = 'coroot_event_recorder_';

type Ev = {
  type: string;
  source: string;
  data: { alert?: { name?: string; summary?: string; severity?: string } };
};

function amAlert(
  name: string,
  status: 'firing' | 'resolved',
  severity: string,
  fingerprint: string,
): Record<string, unknown> {
  return {
    status,
    labels: { alertname: name, severity },
    annotations: { summary: `${name} is ${status}` },
    startsAt: '2026-11-21T11:40:14.152Z',
    endsAt: status === 'resolved' ? '2026-11-21T11:52:00.001Z' : '0001-01-01T00:00:00Z',
    generatorURL: '',
    fingerprint,
  };
}

function amBody(alerts: Array<Record<string, unknown>>): Record<string, unknown> {
  return {
    version: '4',
    status: 'firing',
    receiver: 'recorder',
    groupKey: '{}:{}',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager-0:9093',
    truncatedAlerts: 0,
    alerts,
  };
}

describe('routing filters', () => {
  let d: RunningDaemon;
  const path = (name: string): string => join(d.dir, `out/${name}.jsonl`);
  const read = (name: string): Promise<Ev[]> => readEvents<Ev>(path(name));
  /** The events of output `name` once `ready` holds for them. */
  const readWhen = (name: string, ready: (list: Ev[]) => boolean): Promise<Ev[]> =>
    waitFor(async () => {
      const list = await read(name);
      return ready(list) ? list : null;
    });
  const hasMarker = (list: Ev[]): boolean => list.some((e) => e.data.alert?.name === 'Marker');

  beforeAll(async () => {
    d = await startDaemon(`
instance: it-routing
file_outputs:
  - name: am-firing
    path: ./out/am-firing.jsonl
    event_types: [alert_firing]
    sources: [alertmanager]
  - name: critical
    path: ./out/critical.jsonl
    min_severity: critical
  - name: everything
    path: ./out/everything.jsonl
  - name: info
    path: ./out/info.jsonl
    min_severity: info
`);
  });
  afterAll(async () => {
    await d?.stop();
  });

  it('gives each output exactly what its filters let through, and counts nothing filtered as lost', async () => {
    const am = await post(
      `${d.baseUrl}/api/v1/alertmanager`,
      amBody([
        amAlert('CheckoutDown', 'firing', 'critical', 'c1a2e3d4f5a6b7c8'),
        amAlert('DiskFilling', 'firing', 'warning', 'd1a2e3d4f5a6b7c8'),
        amAlert('CheckoutLatency', 'resolved', 'critical', 'e1a2e3d4f5a6b7c8'),
      ]),
    );
    expect(am.status).toBe(202);
    const coroot = await post(
      `${d.baseUrl}/api/v1/coroot`,
      loadFixture('coroot/alert-firing-critical-details-code.json'),
    );
    expect(coroot.status).toBe(202);
    const deployment = await post(
      `${d.baseUrl}/api/v1/coroot`,
      loadFixture('coroot/deployment-deployed-with-summary.json'),
    );
    expect(deployment.status).toBe(202);
    const marker = await post(
      `${d.baseUrl}/api/v1/alertmanager`,
      amBody([amAlert('Marker', 'firing', 'info', 'f1a2e3d4f5a6b7c8')]),
    );
    expect(marker.status).toBe(202);

    const everything = await readWhen('everything', hasMarker);
    const summary = (e: Ev): string =>
      `${e.source}/${e.type}/${e.data.alert?.name ?? e.data.alert?.summary ?? ''}`;
    expect(everything.map(summary)).toEqual([
      'recorder/recorder_started/',
      'alertmanager/alert_firing/CheckoutDown',
      'alertmanager/alert_firing/DiskFilling',
      'alertmanager/alert_resolved/CheckoutLatency',
      'coroot/alert_firing/replication lag is 94s on postgres-main-1',
      'coroot/deployment/',
      'alertmanager/alert_firing/Marker',
    ]);

    // The loop hands every event to every output in order, so the marker being in one
    // file means the others have been sent theirs: wait until written, then compare.
    const amFiring = await readWhen('am-firing', hasMarker);
    expect(amFiring.map(summary)).toEqual([
      'alertmanager/alert_firing/CheckoutDown',
      'alertmanager/alert_firing/DiskFilling',
      'alertmanager/alert_firing/Marker',
    ]);
    const critical = await readWhen('critical', (list) => list.length >= 3);
    // Lifecycle events and deployments are info (docs/events.md), so an info floor takes them.
    const info = await readWhen('info', hasMarker);
    expect(info.map(summary)).toEqual([
      'recorder/recorder_started/',
      'alertmanager/alert_firing/CheckoutDown',
      'alertmanager/alert_firing/DiskFilling',
      'alertmanager/alert_resolved/CheckoutLatency',
      'coroot/alert_firing/replication lag is 94s on postgres-main-1',
      'coroot/deployment/',
      'alertmanager/alert_firing/Marker',
    ]);
    // Lifecycle events and deployments are not critical; a resolve keeps its alert's.
    expect(critical.map(summary)).toEqual([
      'alertmanager/alert_firing/CheckoutDown',
      'alertmanager/alert_resolved/CheckoutLatency',
      'coroot/alert_firing/replication lag is 94s on postgres-main-1',
    ]);

    const written = {
      'am-firing': amFiring.length,
      critical: critical.length,
      everything: everything.length,
    };
    const metrics = await waitFor(async () => {
      const text = await scrape(d.baseUrl);
      return Object.entries(written).every(
        ([output, n]) => sampleSum(text, `${M}output_events_total`, { output, result: 'written' }) === n,
      )
        ? text
        : null;
    });
    for (const output of Object.keys(written)) {
      expect(sampleSum(metrics, `${M}output_events_total`, { output, result: 'dropped' }), output).toBe(0);
      expect(sampleSum(metrics, `${M}output_events_total`, { output, result: 'failed' }), output).toBe(0);
      expect(sampleSum(metrics, `${M}output_queue_length`, { output }), output).toBe(0);
    }
    expect(sampleSum(metrics, `${M}output_drops_total`)).toBe(0);
    expect(parsePromText(metrics).some((s) => s.labels.reason === 'filtered')).toBe(false);
    expect(sampleSum(metrics, `${M}events_dropped_total`)).toBe(0);
    // Every event was received once, whatever the outputs did with it.
    expect(sampleSum(metrics, `${M}events_received_total`)).toBe(everything.length);
  });
});
