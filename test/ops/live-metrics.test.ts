/*
 * The metric names the docs, the Grafana dashboard and the alert rules use, checked against
 * what a running daemon really exports. The daemon runs with a file and a webhook output (a
 * real HTTP receiver), an authenticated Alertmanager endpoint and a Coroot API poller aimed at
 * a closed port, so the per-output, ingest and poller series all exist. prom-client prints
 * HELP and TYPE for a registered metric even before its first sample (e.g.
 * kafka_produce_errors_total without a Kafka output), so the `# TYPE` lines are the list of
 * families; sample lines add the label names seen.
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Metrics } from '../../src/metrics/registry.js';
import { post, ROOT, type RunningDaemon, startDaemon } from '../helpers/daemon.js';
import { parsePromText, sampleSum, scrape } from '../helpers/metrics.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const P = 'coroot_event_recorder_';
/** prom-client's default process and Node.js metrics: not ours to document. */
const isDefaultMetric = (name: string): boolean =>
  name.startsWith(`${P}process_`) || name.startsWith(`${P}nodejs_`);

interface Family {
  type: string;
  labels: Set<string>;
}

/** Families of a Prometheus text exposition (from `# TYPE`), with the label names of their samples. */
function families(text: string): Map<string, Family> {
  const out = new Map<string, Family>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    out.set(m[1] as string, { type: m[2] as string, labels: new Set() });
  }
  for (const s of parsePromText(text)) {
    const family =
      out.get(s.name) ??
      out.get(s.name.replace(/_(bucket|sum|count)$/, '')) ??
      out.get(s.name.replace(/_total$/, ''));
    if (!family) continue;
    for (const l of Object.keys(s.labels)) if (l !== 'le' && l !== 'quantile') family.labels.add(l);
  }
  return out;
}

/** Every series name a family exposes: histograms and summaries add their suffixes. */
function seriesNames(fams: Map<string, Family>): Set<string> {
  const out = new Set<string>();
  for (const [name, f] of fams) {
    out.add(name);
    if (f.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
    if (f.type === 'summary') for (const s of ['_sum', '_count']) out.add(name + s);
  }
  return out;
}

/** Label names of our metrics as registered in src/metrics/registry.ts (for families with no sample yet). */
function registeredLabels(): Map<string, string[]> {
  const metrics = new Metrics('test', { defaultMetrics: false });
  const list = metrics.registry.getMetricsAsArray() as unknown as Array<{
    name: string;
    labelNames?: readonly string[];
  }>;
  return new Map(list.map((m) => [m.name, [...(m.labelNames ?? [])]]));
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'inf',
  'nan',
  'Inf',
  'NaN',
]);

interface PromqlUse {
  metrics: string[];
  /** Label names in matchers, by the metric they follow. */
  matcherLabels: Array<{ metric: string; label: string }>;
  /** Label names in by/without/on/ignoring lists. */
  groupingLabels: string[];
}

/** Metric and label names an expression uses (Grafana variables and strings aside). */
function promqlUse(expr: string): PromqlUse {
  const matcherLabels: PromqlUse['matcherLabels'] = [];
  const groupingLabels: string[] = [];
  let e = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""').replace(/\$\{?[\w]+\}?/g, '1m');
  for (const m of e.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g)) {
    for (const l of (m[2] as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) {
      matcherLabels.push({ metric: m[1] ?? '', label: l[1] as string });
    }
  }
  e = e.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  for (const m of e.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const l of (m[1] as string).split(',')) if (l.trim()) groupingLabels.push(l.trim());
  }
  e = e
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+\S+/g, ' ');
  const metrics: string[] = [];
  for (const m of e.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()/g)) {
    const name = m[1] as string;
    if (!KEYWORDS.has(name) && !/^\d/.test(name)) metrics.push(name);
  }
  return { metrics, matcherLabels, groupingLabels };
}

/** Labels every target carries, and `le` of histogram buckets. */
const TARGET_LABELS = new Set(['job', 'instance', 'le']);

/** Problems of a set of PromQL expressions against a scrape; empty when every name exists. */
function promqlProblems(
  exprs: string[],
  fams: Map<string, Family>,
  registered: Map<string, string[]>,
): string[] {
  const problems: string[] = [];
  const names = seriesNames(fams);
  const labelsOf = (series: string): Set<string> => {
    const family = fams.has(series) ? series : series.replace(/_(bucket|sum|count)$/, '');
    return new Set([
      ...(fams.get(family)?.labels ?? []),
      ...(registered.get(family) ?? []),
      ...TARGET_LABELS,
    ]);
  };
  for (const expr of exprs) {
    const use = promqlUse(expr);
    if (use.metrics.length === 0) problems.push(`no metric in: ${expr}`);
    for (const m of use.metrics) {
      if (m !== 'up' && !names.has(m)) problems.push(`${m} is not exported by the daemon (in: ${expr})`);
    }
    for (const { metric, label } of use.matcherLabels) {
      if (metric && metric !== 'up' && names.has(metric) && !labelsOf(metric).has(label)) {
        problems.push(`${metric} has no label ${label} (in: ${expr})`);
      }
    }
    const known = new Set(use.metrics.flatMap((m) => [...labelsOf(m)]));
    for (const label of use.groupingLabels) {
      if (!known.has(label)) problems.push(`no metric of the expression has label ${label} (in: ${expr})`);
    }
  }
  return problems;
}

/** Every PromQL expression of a Grafana dashboard: panel targets (rows included) and variable queries. */
function dashboardExprs(dashboard: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>;
      if (typeof o.expr === 'string') out.push(o.expr);
      for (const [k, x] of Object.entries(o)) if (k !== 'expr') walk(x);
    }
  };
  const d = dashboard as {
    panels?: unknown;
    templating?: { list?: Array<{ type?: string; query?: unknown }> };
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
    const inner = /^label_values\((.*),\s*\w+\)$/.exec(q ?? '')?.[1] ?? q;
    if (inner) out.push(inner);
  }
  return out;
}

/** The metrics table of docs/metrics.md: name (without prefix) → documented type and labels. */
function documentedMetrics(markdown: string): Map<string, { type: string; labels: string[] }> {
  const out = new Map<string, { type: string; labels: string[] }>();
  for (const line of markdown.split('\n')) {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    if (cells.length < 5 || !/^(counter|gauge|histogram|summary)$/.test(cells[2] ?? '')) continue;
    const labels = (cells[3] ?? '')
      .replace(/\([^)]*\)/g, '')
      .split(',')
      .map((l) => l.trim())
      .filter(Boolean);
    for (const m of (cells[1] ?? '').matchAll(/`([a-z_]+)`/g)) {
      out.set(m[1] as string, { type: cells[2] as string, labels });
    }
  }
  return out;
}

function metricsDocProblems(
  markdown: string,
  fams: Map<string, Family>,
  registered: Map<string, string[]>,
): string[] {
  const problems: string[] = [];
  const documented = documentedMetrics(markdown);
  const live = [...fams.keys()].filter((n) => n.startsWith(P) && !isDefaultMetric(n));
  for (const name of live) {
    const short = name.slice(P.length);
    const doc = documented.get(short);
    if (!doc) {
      problems.push(`${name} is exported but not in docs/metrics.md`);
      continue;
    }
    const family = fams.get(name) as Family;
    if (doc.type !== family.type)
      problems.push(`${short}: documented as ${doc.type}, exported as ${family.type}`);
    const labels = new Set([...family.labels, ...(registered.get(name) ?? [])]);
    const want = [...labels].sort().join(', ');
    const got = [...doc.labels].sort().join(', ');
    if (want !== got) problems.push(`${short}: documented labels "${got}", exported "${want}"`);
  }
  for (const short of documented.keys()) {
    if (!fams.has(P + short))
      problems.push(`docs/metrics.md lists ${short}, which the daemon does not export`);
  }
  return problems;
}

describe('metric names in docs, dashboard and alerts vs a live /metrics', () => {
  let receiver: Server;
  let d: RunningDaemon;
  let fams: Map<string, Family>;
  let text: string;
  const registered = registeredLabels();

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const deadPort = await freePort();
    d = await startDaemon(`
ingest:
  alertmanager:
    bearer_token: ops-test-token
  coroot_api:
    - url: http://127.0.0.1:${deadPort}
      project: deadbeef
      interval: 100ms
      max_backoff: 200ms
      timeout: 1s
      state_file: ./state/deadbeef.json
file_outputs:
  - path: ./events.jsonl
webhook_outputs:
  - url: ${hook}
`);
    const accepted = await post(`${d.baseUrl}/api/v1/coroot`, {
      status: 'WARNING',
      application: 'c1:shop:Deployment:catalog',
      rule_name: 'Low disk space',
      severity: 'warning',
      summary: 'disk space is low',
      url: 'https://coroot.example.com/p/x0xwl4jz/alerts?alert=k3v9q2m8x1za',
    });
    expect(accepted.status).toBe(202);
    expect((await post(`${d.baseUrl}/api/v1/alertmanager`, { version: '4' })).status).toBe(401);
    // recorder_started + the alert, written by both outputs; the poller has failed at least once.
    text = await waitFor(
      async () => {
        const t = await scrape(d.baseUrl);
        const written = sampleSum(t, `${P}output_events_total`, { result: 'written' });
        const failedPolls = sampleSum(t, `${P}coroot_api_polls_total`, { result: 'error_network' });
        return written >= 4 && failedPolls >= 1 ? t : null;
      },
      { what: 'both outputs to write and the poller to fail' },
    );
    fams = families(text);
  });

  afterAll(async () => {
    await d?.stop();
    await new Promise((r) => receiver?.close(r));
    if (d) await rm(d.dir, { recursive: true, force: true });
  });

  it('the scrape has per-output, ingest, poller and no-sample families', () => {
    for (const name of [
      'output_events_total',
      'output_send_duration_seconds',
      'ingest_rejected_total',
      'coroot_api_polls_total',
    ]) {
      expect(fams.get(P + name)?.labels.size, name).toBeGreaterThan(0);
    }
    // Registered, no Kafka output: HELP/TYPE without samples, which is how it is listed.
    expect(fams.get(`${P}kafka_produce_errors_total`)?.type).toBe('counter');
    expect(parsePromText(text).some((s) => s.name === `${P}kafka_produce_errors_total`)).toBe(false);
    // Every metric src/metrics/registry.ts registers is exported.
    for (const name of registered.keys()) expect(fams.has(name), name).toBe(true);
  });

  it('docs/metrics.md lists exactly the exported metrics, with their types and labels', () => {
    const md = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');
    expect(metricsDocProblems(md, fams, registered)).toEqual([]);
  });

  it('the metrics docs check catches a missing, an extra and a mislabelled metric', () => {
    const md = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');
    const row = md.split('\n').find((l) => l.startsWith('| `file_reopens_total`')) as string;
    expect(row).toBeDefined();
    expect(metricsDocProblems(md.replace(`${row}\n`, ''), fams, registered).join('\n')).toMatch(
      /file_reopens_total is exported but not/,
    );
    expect(
      metricsDocProblems(`${md}\n| \`events_lost_total\` | counter | | x |\n`, fams, registered).join('\n'),
    ).toMatch(/lists events_lost_total/);
    expect(
      metricsDocProblems(
        md.replace(row, row.replace('| output |', '| output, path |')),
        fams,
        registered,
      ).join('\n'),
    ).toMatch(/file_reopens_total: documented labels/);
  });

  it('every PromQL expression of the Grafana dashboard names exported metrics and labels', () => {
    const dashboard: unknown = JSON.parse(
      readFileSync(join(ROOT, 'config/grafana/coroot-event-recorder.json'), 'utf8'),
    );
    const exprs = dashboardExprs(dashboard);
    expect(exprs.length).toBeGreaterThan(20);
    expect(promqlProblems(exprs, fams, registered)).toEqual([]);
  });

  it('every alert rule and every series of its unit tests names exported metrics and labels', () => {
    const rules = parse(readFileSync(join(ROOT, 'config/prometheus/alerts.yaml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ expr: string }> }>;
    };
    const exprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr));
    const tests = parse(readFileSync(join(ROOT, 'config/prometheus/alerts.test.yaml'), 'utf8')) as {
      tests: Array<{ input_series: Array<{ series: string }> }>;
    };
    const series = tests.tests.flatMap((t) => t.input_series.map((s) => s.series));
    expect(promqlProblems([...exprs, ...series], fams, registered)).toEqual([]);
  });

  it('the PromQL check catches an unknown metric and an unknown label', () => {
    const ok = `sum by (output) (rate(${P}output_events_total{job=~"$job", result="written"}[$__rate_interval]))`;
    const problems = (expr: string): string => promqlProblems([expr], fams, registered).join('\n');
    expect(problems(ok)).toBe('');
    expect(problems(ok.replace('output_events_total', 'output_event_total'))).toMatch(
      /output_event_total is not exported/,
    );
    expect(problems(ok.replace('result=', 'outcome='))).toMatch(/has no label outcome/);
    expect(problems(ok.replace('by (output)', 'by (outputs)'))).toMatch(/has label outputs/);
    const p99 = `histogram_quantile(0.99, sum by (le) (rate(${P}ingest_request_duration_seconds_bucket[5m])))`;
    expect(problems(p99)).toBe('');
    expect(problems(p99.replace('_seconds_bucket', '_bucket'))).toMatch(/is not exported/);
  });
});
