import { createHash } from 'node:crypto';
import type { CorootAlert, RecorderEvent } from '../../src/events/event.js';
import { EventFactory } from '../../src/events/factory.js';

export interface TestAlertOptions {
  /** The `instance` stamped on the event (default `test`). */
  instance?: string;
  /** Default `0123456789abcdef`. */
  fingerprint?: string;
  /** Fields of the alert that replace the defaults (`rule: 'test'`, summary `event <seq>`, `extra: { seq }`). */
  alert?: Partial<CorootAlert>;
}

/**
 * A stamped `alert_firing` event from Coroot, valid against the event schema: a minimal
 * alert numbered `seq` (its summary `event <seq>`, `seq` again in `extra`), with `opts`
 * replacing what a suite needs otherwise.
 */
export function testAlertEvent(seq: number, opts: TestAlertOptions = {}): RecorderEvent {
  const alert: CorootAlert = {
    id: null,
    project: { id: 'p1', name: 'test' },
    application: null,
    rule: 'test',
    severity: 'warning',
    status: 'firing',
    summary: `event ${seq}`,
    details: [],
    duration_seconds: null,
    resolution: null,
    resolved_by: null,
    url: null,
    extra: { seq },
    ...opts.alert,
  };
  return new EventFactory(opts.instance ?? 'test').stamp({
    source: 'coroot',
    type: 'alert_firing',
    fingerprint: opts.fingerprint ?? '0123456789abcdef',
    // Two's complement for a negative seq: always 16 hex digits (event.schema.json).
    dedupKey: BigInt.asUintN(64, BigInt(seq)).toString(16).padStart(16, '0'),
    severity: 'warning',
    data: { alert },
  });
}

/**
 * The alert of a typical Coroot notification, numbered `seq`: high CPU of one Deployment,
 * with a URL and one detail (about 720 bytes once serialized as an event).
 */
export function realisticAlert(seq: number): Partial<CorootAlert> {
  return {
    id: `a${seq}`,
    project: { id: 'x0xwl4jz', name: 'production' },
    application: {
      id: 'prod:default:Deployment:checkout',
      cluster: 'prod',
      namespace: 'default',
      kind: 'Deployment',
      name: 'checkout',
    },
    rule: 'High CPU usage',
    summary: 'CPU usage of checkout is above 80% for 5 minutes',
    details: [{ name: 'cpu', value: '87%', code: false }],
    url: 'https://coroot.example.com/p/x0xwl4jz/app/prod:default:Deployment:checkout',
    extra: {},
  };
}

/**
 * The webhook body of one Coroot alert whose `summary` identifies it in what the recorder
 * wrote; the alert id is derived from the summary, so different summaries are different alerts.
 */
export function corootAlertPayload(
  summary: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const id = createHash('sha256').update(summary).digest('hex').slice(0, 12);
  return {
    status: 'WARNING',
    project_name: 'production',
    application: 'x0xwl4jz:shop:Deployment:catalog',
    rule_name: 'Low disk space',
    severity: 'warning',
    summary,
    url: `https://coroot.example.com/p/x0xwl4jz/alerts?alert=${id}`,
    ...extra,
  };
}

export interface FiringAlertsOptions {
  /** The `alertname` label of every alert, and the group's. */
  alertname: string;
  /** The alerts' `uid` labels are `<uidPrefix>-<from + k>`. */
  uidPrefix: string;
  /** Default 0. */
  from?: number;
  n: number;
  /** Alert k's fingerprint is `fingerprintBase + from + k` (16 hex digits): distinct alerts per test. */
  fingerprintBase: number;
}

/**
 * An Alertmanager webhook body (JSON text) of `n` firing alerts, each with a unique `uid`
 * label, as Alertmanager 0.2x sends them.
 */
export function firingAlertsBody(opts: FiringAlertsOptions): string {
  const from = opts.from ?? 0;
  const alerts = Array.from({ length: opts.n }, (_, k) => {
    const uid = `${opts.uidPrefix}-${from + k}`;
    return {
      status: 'firing',
      labels: { alertname: opts.alertname, severity: 'warning', uid },
      annotations: { summary: `${opts.alertname} test alert ${uid}` },
      startsAt: '2026-11-21T11:30:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph',
      fingerprint: (opts.fingerprintBase + from + k).toString(16).padStart(16, '0'),
    };
  });
  return JSON.stringify({
    receiver: 'recorder',
    status: 'firing',
    alerts,
    groupLabels: { alertname: opts.alertname },
    commonLabels: { alertname: opts.alertname },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    version: '4',
    groupKey: `{}:{uid="${opts.uidPrefix}-${from}"}`,
    truncatedAlerts: 0,
  });
}
