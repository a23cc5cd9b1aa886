/*
 * POST /api/v1/alertmanager fed by the real Alertmanager (docs/architecture.md "Tests"): alerts posted to
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
  startAlertmanagerCluster,
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
  dedup_key: string;
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

  describe('two clustered peers notifying the recorder (HA)', () => {
    // Recorder A keeps the default dedupe; recorder B keeps every copy (window 0s), so the
    // test sees that both peers really delivered, and that without dedupe copies appear.
    let a: RunningDaemon;
    let b: RunningDaemon;
    let peers: RunningAlertmanager[];
    const NAMES = ['HaDiskFull', 'HaHighLatency'] as const;
    const labels = (name: string): Record<string, string> => ({ alertname: name, severity: 'warning' });
    // Prometheus sends the same alert, startsAt included, to every peer.
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const fileOf = (d: RunningDaemon): string => join(d.dir, 'out/events.jsonl');
    const requests = async (d: RunningDaemon): Promise<number> =>
      sampleSum(await scrape(d.baseUrl), `${M}ingest_requests_total`, {
        endpoint: 'alertmanager',
        code: '202',
      });
    const count = (list: Ev[], type: string, name: string): number =>
      list.filter((e) => e.type === type && e.data.alert?.name === name).length;
    const postToAll = async (alerts: Parameters<RunningAlertmanager['postAlerts']>[0]): Promise<void> => {
      await Promise.all(peers.map((p) => p.postAlerts(alerts)));
    };

    beforeAll(async () => {
      a = await startDaemon('instance: it-am-ha\nfile_outputs:\n  - path: ./out/events.jsonl\n');
      b = await startDaemon(
        'instance: it-am-ha-nodedupe\ndedupe: { window: 0s }\nfile_outputs:\n  - path: ./out/events.jsonl\n',
      );
      peers = await startAlertmanagerCluster({
        webhookUrl: `${a.baseUrl}/api/v1/alertmanager`,
        moreWebhookUrls: [`${b.baseUrl}/api/v1/alertmanager`],
      });
    }, 120_000);
    afterAll(async () => {
      await Promise.all((peers ?? []).map((p) => p.stop()));
      await a?.stop();
      await b?.stop();
    });

    it("records exactly one firing and one resolved event per alert; without dedupe both peers' copies appear", async () => {
      await postToAll(NAMES.map((name) => ({ labels: labels(name), startsAt })));
      // The first peer notifies after group_wait; the second waits its turn (peer_timeout, 15 s)
      // and checks the gossiped notification log first. Resolving before that turn is how
      // the operator's measurement went: the second peer then sends its firing after the
      // resolve, and its resolve after that.
      const firstFirings = async (d: RunningDaemon): Promise<boolean> => {
        const list = await events(fileOf(d));
        return NAMES.every((name) => count(list, 'alert_firing', name) >= 1);
      };
      await waitFor(async () => (await firstFirings(a)) && (await firstFirings(b)), {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: 'the first peer to notify both recorders',
      });
      const endsAt = new Date().toISOString();
      await postToAll(NAMES.map((name) => ({ labels: labels(name), startsAt, endsAt })));
      // Both peers' firing and resolved copies: 4 requests per alert to each recorder.
      await waitFor(
        async () => (await requests(a)) >= 4 * NAMES.length && (await requests(b)) >= 4 * NAMES.length,
        { timeoutMs: 150_000, intervalMs: 500, what: "both peers' firing and resolved notifications" },
      );
      const withDedupe = await events(fileOf(a));
      const withoutDedupe = await waitFor(async () => {
        const list = await events(fileOf(b));
        return list.length >= 4 * NAMES.length ? list : null;
      });
      for (const name of NAMES) {
        expect(
          [count(withDedupe, 'alert_firing', name), count(withDedupe, 'alert_resolved', name)],
          name,
        ).toEqual([1, 1]);
        expect(
          [count(withoutDedupe, 'alert_firing', name), count(withoutDedupe, 'alert_resolved', name)],
          name,
        ).toEqual([2, 2]);
      }
      // B got one copy from each peer (their external URLs), A recorded the first of each.
      const externalUrls = new Set(
        withoutDedupe.map(
          (e) => (e.data.alert?.group as { external_url?: string } | undefined)?.external_url,
        ),
      );
      expect(externalUrls).toEqual(new Set(peers.map((p) => p.url)));
      const metricsA = await scrape(a.baseUrl);
      // Every request past the first firing and the first resolve of each alert was a copy.
      const requestsA = sampleSum(metricsA, `${M}ingest_requests_total`, {
        endpoint: 'alertmanager',
        code: '202',
      });
      expect(requestsA).toBeGreaterThanOrEqual(4 * NAMES.length);
      expect(sampleSum(metricsA, `${M}events_deduplicated_total`, { source: 'alertmanager' })).toBe(
        requestsA - 2 * NAMES.length,
      );
      expect(sampleSum(await scrape(b.baseUrl), `${M}events_deduplicated_total`)).toBe(0);
      for (const e of withDedupe) expect(e.dedup_key).toMatch(/^[0-9a-f]{16}$/);
    }, 300_000);
  });
});
