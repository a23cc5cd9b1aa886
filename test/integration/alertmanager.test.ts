/*
 * POST /api/v1/alertmanager fed by the real Alertmanager (TESTING.md): alerts posted to
 * its API fire and resolve into the recorder with Alertmanager's own fingerprints, and
 * with a tiny queue its notifications get 503s, are retried, and all arrive in the end.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AmAlert,
  alertmanagerAvailable,
  type RunningAlertmanager,
  startAlertmanager,
} from '../helpers/alertmanager.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon.js';
import { sampleSum, scrape } from '../helpers/metrics.js';
import { readEvents } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';

const M = 'coroot_event_recorder_';
const TOKEN = 'am-bearer-token';

type Ev = {
  type: string;
  source: string;
  fingerprint: string;
  data: { alert?: Record<string, unknown> & { labels?: Record<string, string> } };
};

async function events(path: string): Promise<Ev[]> {
  return (await readEvents<Ev>(path)).filter((e) => e.source === 'alertmanager');
}

/** Alertmanager's fingerprint of each alert, by alertname, once it lists them all. */
async function fingerprints(am: RunningAlertmanager, names: readonly string[]): Promise<Map<string, string>> {
  const listed = await waitFor(async () => {
    const alerts: AmAlert[] = await am.alerts();
    return names.every((n) => alerts.some((a) => a.labels.alertname === n)) ? alerts : null;
  });
  return new Map(listed.map((a) => [a.labels.alertname as string, a.fingerprint]));
}

describe.skipIf(!alertmanagerAvailable())('real Alertmanager', () => {
  describe('fire and resolve', () => {
    let d: RunningDaemon;
    let am: RunningAlertmanager;
    let file: string;
    const NAMES = ['HighRequestLatency', 'DiskFull', 'NoSeverity'] as const;
    const labels = (name: string): Record<string, string> => ({
      alertname: name,
      job: 'checkout',
      ...(name === 'HighRequestLatency' ? { severity: 'critical' } : {}),
      ...(name === 'DiskFull' ? { severity: 'warning', instance: 'db-1:9100' } : {}),
    });

    beforeAll(async () => {
      d = await startDaemon(`
instance: it-am
ingest:
  alertmanager:
    bearer_token: ${TOKEN}
file_outputs:
  - path: ./out/events.jsonl
`);
      file = join(d.dir, 'out/events.jsonl');
      am = await startAlertmanager({ webhookUrl: `${d.baseUrl}/api/v1/alertmanager`, bearerToken: TOKEN });
    });
    afterAll(async () => {
      await am?.stop();
      await d?.stop();
    });

    it('records each firing alert with its fingerprint, severity, group and Go zero end time as null', async () => {
      await am.postAlerts(
        NAMES.map((name) => ({
          labels: labels(name),
          annotations: { summary: `${name} summary` },
          generatorURL: 'http://prometheus-0:9090/graph?g0.expr=up',
        })),
      );
      const fp = await fingerprints(am, NAMES);
      const firing = await waitFor(async () => {
        const list = (await events(file)).filter((e) => e.type === 'alert_firing');
        return list.length >= NAMES.length ? list : null;
      });
      expect(firing).toHaveLength(NAMES.length);
      for (const name of NAMES) {
        const event = firing.find((e) => e.data.alert?.name === name);
        expect(event?.fingerprint, name).toBe(fp.get(name));
        expect(event?.data.alert).toMatchObject({
          fingerprint: fp.get(name),
          status: 'firing',
          labels: labels(name),
          annotations: { summary: `${name} summary` },
          ends_at: null,
          generator_url: 'http://prometheus-0:9090/graph?g0.expr=up',
          group: {
            key: `{}:{alertname="${name}"}`,
            receiver: 'recorder',
            labels: { alertname: name },
            external_url: am.url,
          },
        });
        expect(event?.data.alert?.starts_at).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
      }
      expect(firing.map((e) => [e.data.alert?.name, e.data.alert?.severity]).sort()).toEqual([
        ['DiskFull', 'warning'],
        ['HighRequestLatency', 'critical'],
        ['NoSeverity', 'unknown'],
      ]);
    });

    it('records the resolve with the same fingerprint and an end time', async () => {
      const fp = await fingerprints(am, NAMES);
      const endsAt = new Date().toISOString();
      await am.postAlerts(NAMES.map((name) => ({ labels: labels(name), endsAt })));
      const resolved = await waitFor(async () => {
        const list = (await events(file)).filter((e) => e.type === 'alert_resolved');
        return list.length >= NAMES.length ? list : null;
      });
      expect(resolved).toHaveLength(NAMES.length);
      for (const name of NAMES) {
        const event = resolved.find((e) => e.data.alert?.name === name);
        expect(event?.fingerprint).toBe(fp.get(name));
        expect(event?.data.alert?.status).toBe('resolved');
        expect(event?.data.alert?.ends_at).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
      }
      const metrics = await scrape(d.baseUrl);
      expect(
        sampleSum(metrics, `${M}ingest_requests_total`, { endpoint: 'alertmanager', code: '202' }),
      ).toBeGreaterThanOrEqual(2);
      expect(sampleSum(metrics, `${M}ingest_rejected_total`, { endpoint: 'alertmanager' })).toBe(0);
    });
  });

  describe('with a tiny queue', () => {
    let d: RunningDaemon;
    let am: RunningAlertmanager;
    let file: string;
    const NAMES = Array.from({ length: 12 }, (_, i) => `QueueTest${i}`);

    beforeAll(async () => {
      d = await startDaemon(`
instance: it-am-tiny
queue_size: 1
on_queue_full: reject
# The flood repeats one body to keep the queue full: every copy must be recorded.
dedupe: { window: 0s }
file_outputs:
  - path: ./out/events.jsonl
    fsync: none
`);
      file = join(d.dir, 'out/events.jsonl');
      // One group per alert: each notification carries one alert, which fits the queue once it is free.
      am = await startAlertmanager({ webhookUrl: `${d.baseUrl}/api/v1/alertmanager` });
    });
    afterAll(async () => {
      await am?.stop();
      await d?.stop();
    });

    it('gets 503s, retries, and every alert is still recorded in the end', async () => {
      // Keep the one-slot queue busy with Coroot webhooks while Alertmanager delivers, so
      // its requests meet a full queue; stop once one of them was refused.
      let flooding = true;
      const body = JSON.stringify({
        status: 'WARNING',
        rule_name: 'Flood',
        severity: 'warning',
        summary: 'flood',
        url: 'https://coroot.example.com/p/x0xwl4jz/alerts?alert=flood0000001',
      });
      const worker = async (): Promise<void> => {
        while (flooding) {
          const res = await fetch(`${d.baseUrl}/api/v1/coroot`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          await res.arrayBuffer();
        }
      };
      const workers = Array.from({ length: 24 }, worker);
      const refused = async (): Promise<number> =>
        sampleSum(await scrape(d.baseUrl), `${M}ingest_requests_total`, {
          endpoint: 'alertmanager',
          code: '503',
        });
      const post = (names: readonly string[]): Promise<void> =>
        am.postAlerts(names.map((name) => ({ labels: { alertname: name, severity: 'warning' } })));
      try {
        await post(NAMES);
        // Alertmanager sends each group once; if every notification happened to find the slot
        // free, nothing would be retried. So raise new groups (new notifications after
        // group_wait) until one of them meets the full queue.
        let round = 0;
        await waitFor(
          async () => {
            if ((await refused()) >= 1) return true;
            const more = Array.from({ length: 4 }, (_, i) => `QueueTest${round}x${i}`);
            round++;
            NAMES.push(...more);
            await post(more);
            return false;
          },
          { timeoutMs: 60_000, intervalMs: 1000, what: 'a 503 to Alertmanager' },
        );
      } finally {
        flooding = false;
        await Promise.all(workers);
      }
      const fp = await fingerprints(am, NAMES);
      const recorded = await waitFor(
        async () => {
          const firing = (await events(file)).filter((e) => e.type === 'alert_firing');
          return NAMES.every((n) => firing.some((e) => e.fingerprint === fp.get(n))) ? firing : null;
        },
        { timeoutMs: 40_000, what: 'every alert to be recorded' },
      );
      for (const name of NAMES) {
        expect(
          recorded.some((e) => e.data.alert?.name === name && e.fingerprint === fp.get(name)),
          name,
        ).toBe(true);
      }
      // Alertmanager saw the failures and retried: its own counters say so.
      expect(await am.metric('alertmanager_notification_requests_failed_total')).toBeGreaterThanOrEqual(1);
      const metrics = await scrape(d.baseUrl);
      expect(
        sampleSum(metrics, `${M}ingest_rejected_total`, { endpoint: 'alertmanager', reason: 'queue_full' }),
      ).toBeGreaterThanOrEqual(1);
      // Refused with 503 means retried by the sender, not lost: nothing counted as dropped.
      expect(sampleSum(metrics, `${M}events_dropped_total`)).toBe(0);
    }, 150_000);
  });
});
