import { performance } from 'node:perf_hooks';
import { books, M, waitDrained } from './accounting.js';
import { FILE_OUTPUT_YAML, load, QUEUE_YAML, startDaemonProcess } from './processes.js';
import { round } from './stats.js';
import type { BenchOptions, BenchResult } from './types.js';

const ALERTS_PER_REQUEST = 100;
const CONNECTIONS = 16;
const TARGET = 150_000;

/**
 * An Alertmanager v4 webhook payload of `n` firing alerts of one group, as Alertmanager
 * sends it: per-alert labels (alertname/severity/instance/job/...), annotations,
 * startsAt, the zero endsAt, generatorURL and distinct fingerprints.
 */
export function alertmanagerPayload(n: number): string {
  const alerts = Array.from({ length: n }, (_, i) => {
    const instance = `10.0.${Math.floor(i / 250)}.${i % 250}:9100`;
    return {
      status: 'firing',
      labels: {
        alertname: 'NodeFilesystemSpaceFillingUp',
        severity: i % 10 === 0 ? 'critical' : 'warning',
        instance,
        job: 'node-exporter',
        device: '/dev/sda1',
        mountpoint: '/data',
        namespace: 'monitoring',
      },
      annotations: {
        summary: 'Filesystem is predicted to run out of space within the next 24 hours.',
        description: `Filesystem on /dev/sda1 at ${instance} has only ${10 + (i % 20)}% available space left and is filling up.`,
        runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/node/nodefilesystemspacefillingup',
      },
      startsAt: new Date(Date.UTC(2026, 10, 21, 11, 30, i % 60)).toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL:
        'http://prometheus-k8s-0:9090/graph?g0.expr=node_filesystem_avail_bytes%7Bjob%3D%22node-exporter%22%7D&g0.tab=1',
      fingerprint: (0x1f2e3d4c5b6a0000 + i).toString(16).padStart(16, '0'),
    };
  });
  return JSON.stringify({
    receiver: 'recorder',
    status: 'firing',
    alerts,
    groupLabels: { alertname: 'NodeFilesystemSpaceFillingUp' },
    commonLabels: {
      alertname: 'NodeFilesystemSpaceFillingUp',
      job: 'node-exporter',
      namespace: 'monitoring',
    },
    commonAnnotations: {
      summary: 'Filesystem is predicted to run out of space within the next 24 hours.',
    },
    externalURL: 'http://alertmanager-main-0:9093',
    version: '4',
    groupKey: '{}:{alertname="NodeFilesystemSpaceFillingUp"}',
    truncatedAlerts: 0,
  });
}

/**
 * Scenario 3: Alertmanager webhooks of 100 alerts each → file output, keep-alive,
 * 16 connections. events/s is what reached the file: output_events_total{result=written}
 * scraped right before and right after the measured load, over the time between. That is
 * the sustained rate whichever side is slower: should ingest outrun the write loop, the
 * queue fills and the daemon answers 503 (queue_full, on_queue_full: reject), which the
 * sender retries and the note reports. Any other failure fails the scenario, and every
 * accepted event must reach the file once the load stops.
 */
export async function benchAlertmanager(opts: BenchOptions): Promise<BenchResult[]> {
  const durationSec = opts.quick ? 1.5 : 10;
  const body = alertmanagerPayload(ALERTS_PER_REQUEST);
  const daemon = await startDaemonProcess(`${QUEUE_YAML}${FILE_OUTPUT_YAML}`);
  try {
    const url = `${daemon.baseUrl}/api/v1/alertmanager`;
    const run = async (seconds: number) => {
      const r = await load(url, body, { connections: CONNECTIONS, durationSec: seconds });
      const refusedOtherwise = r.non2xx - (r.statusCodes['503'] ?? 0);
      if (r.errors > 0 || refusedOtherwise > 0 || r.ok2xx === 0) {
        throw new Error(`${r.ok2xx} 2xx, ${r.errors} errors, status codes ${JSON.stringify(r.statusCodes)}`);
      }
      return r;
    };
    await run(opts.quick ? 0.5 : 1);
    // The warm-up's events must be written before the window opens, or they would count in it.
    const before = await waitDrained(daemon, () => true, 30_000);
    const t0 = performance.now();
    const r = await run(durationSec);
    const duringLoad = books(await daemon.metrics());
    const seconds = (performance.now() - t0) / 1000;
    const file = duringLoad.outputs[0];
    const file0 = before.outputs[0];
    if (!file || !file0) throw new Error('no output in /metrics');
    const eventsPerSec = (file.written - file0.written) / seconds;
    const after = await waitDrained(daemon, () => true, 60_000);
    const lost = after.outputs[0]?.dropsByReason ?? {};
    const allWritten = after.outputs[0]?.written === after.received && Object.keys(lost).length === 0;
    const refused = r.statusCodes['503'] ?? 0;
    const queueFull = after.sample(M.ingestRejected, { endpoint: 'alertmanager', reason: 'queue_full' });
    return [
      {
        scenario: `3 alertmanager ingest -> file (${ALERTS_PER_REQUEST} alerts/request)`,
        unit: 'events/s',
        value: round(eventsPerSec, 0),
        target: `>= ${TARGET} events/s, all written`,
        met: eventsPerSec >= TARGET && allWritten,
        note:
          `events written to the file per second during ${durationSec}s of load (${Buffer.byteLength(body)} B requests, ` +
          `${CONNECTIONS} keep-alive connections, autocannon): ${r.ok2xx} requests answered 202, ${refused} answered 503 ` +
          `(ingest_rejected_total{reason=queue_full} over the whole run: ${queueFull}); ` +
          `${allWritten ? 'every accepted event written' : `NOT every accepted event written: ${JSON.stringify(lost)}`}`,
      },
    ];
  } finally {
    await daemon.stop();
  }
}
