/*
 * config/prometheus/ under the real promtool (Debian package `prometheus`): the alert rules
 * load, their unit tests (alerts.test.yaml: input series, expected alerts firing and not
 * firing) pass, and the scrape config example is a valid prometheus.yml. Each is also shown
 * to fail on a broken copy. The scrape job is cross-checked against the Kubernetes manifests.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { ROOT, tempDir } from '../helpers/daemon.js';

const run = promisify(execFile);
const DIR = join(ROOT, 'config/prometheus');
const PROMTOOL = (process.env.PATH ?? '/usr/bin')
  .split(delimiter)
  .map((d) => join(d, 'promtool'))
  .find((p) => existsSync(p));
const REQUIRED = process.env.REQUIRE_PROMTOOL === '1';
if (!PROMTOOL && !REQUIRED) {
  console.log('promtool suite skipped: promtool not found (install it: apt-get install prometheus)');
}

type Obj = Record<string, unknown>;

/** Temp folders of this file, removed after it. */
const created: string[] = [];
async function scratch(prefix: string): Promise<string> {
  const dir = await tempDir(prefix);
  created.push(dir);
  return dir;
}
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const objs = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** Runs promtool; resolves with its exit code and output, never rejects on a non-zero exit. */
async function promtool(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  try {
    const r = await run(PROMTOOL ?? 'promtool', args, { cwd });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** A copy of config/prometheus in a temp folder, optionally with one file edited. */
async function copy(edit?: { file: string; change: (text: string) => string }): Promise<string> {
  const dir = await scratch('cer-prom-');
  await cp(DIR, dir, { recursive: true });
  if (edit) {
    const path = join(dir, edit.file);
    const before = await readFile(path, 'utf8');
    const after = edit.change(before);
    if (after === before) throw new Error(`the edit of ${edit.file} changed nothing`);
    await writeFile(path, after);
  }
  return dir;
}

/**
 * Debian's promtool is built without Kubernetes service discovery, so `check config` would
 * reject `kubernetes_sd_configs`. Swap it for a static target: everything else (relabel
 * regexes, rule_files, intervals) is still checked by promtool itself.
 */
function withoutKubernetesSd(scrapeYaml: string): string {
  const out = scrapeYaml.replace(
    /kubernetes_sd_configs:\n(\s+)- role: pod\n/,
    (_m, indent: string) => `static_configs:\n${indent}- targets: ["127.0.0.1:9880"]\n`,
  );
  if (out === scrapeYaml) throw new Error('scrape.yaml has no `kubernetes_sd_configs: - role: pod` block');
  return out;
}

async function checkConfig(dir: string): Promise<{ code: number; out: string }> {
  await writeFile(
    join(dir, 'promtool-scrape.yaml'),
    withoutKubernetesSd(await readFile(join(dir, 'scrape.yaml'), 'utf8')),
  );
  return promtool(['check', 'config', 'promtool-scrape.yaml'], dir);
}

/** The `expr` of every panel target of a Grafana dashboard JSON. */
function grafanaExprs(json: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else if (isObj(v)) {
      if (typeof v.expr === 'string') out.push(v.expr);
      for (const x of Object.values(v)) walk(x);
    }
  };
  walk((JSON.parse(json) as Obj).panels);
  return out;
}

/**
 * promtool parses PromQL when it checks rules: each expression becomes a recording rule,
 * with Grafana's variables replaced by what Grafana would put there.
 */
async function checkExprs(exprs: string[]): Promise<{ code: number; out: string }> {
  const concrete = exprs.map((e) =>
    e
      .replaceAll('$__rate_interval', '2m')
      .replaceAll('$__interval', '30s')
      .replaceAll('$__range', '6h')
      .replace(/\$\{?\w+\}?/g, '.+'),
  );
  const rules = {
    groups: [{ name: 'grafana', rules: concrete.map((expr, i) => ({ record: `grafana:expr_${i}`, expr })) }],
  };
  const dir = await scratch('cer-grafana-');
  await writeFile(join(dir, 'rules.yaml'), stringify(rules));
  return promtool(['check', 'rules', 'rules.yaml'], dir);
}

describe.runIf(PROMTOOL !== undefined || REQUIRED)('Prometheus alerts and scrape config (promtool)', () => {
  afterAll(async () => {
    await Promise.all(created.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('promtool is installed', () => {
    expect(PROMTOOL, 'promtool not found (apt-get install prometheus)').toBeDefined();
  });

  it('alerts.yaml passes promtool check rules and covers every loss the brief names', async () => {
    const r = await promtool(['check', 'rules', 'alerts.yaml'], DIR);
    expect(r.code, r.out).toBe(0);
    const rules = objs(parse(await readFile(join(DIR, 'alerts.yaml'), 'utf8')).groups).flatMap((g) =>
      objs(g.rules),
    );
    const byMetric = (metric: string): string[] =>
      rules.filter((x) => String(x.expr).includes(metric)).map((x) => String(x.alert));
    for (const metric of [
      'events_dropped_total',
      'output_drops_total',
      'output_up',
      'config_last_reload_successful',
      'queue_capacity',
      'coroot_api_polls_total',
    ]) {
      expect(byMetric(`coroot_event_recorder_${metric}`), `an alert on ${metric}`).not.toEqual([]);
    }
    for (const rule of rules) {
      expect(['critical', 'warning']).toContain((rule.labels as Obj | undefined)?.severity);
      expect(
        isObj(rule.annotations) && rule.annotations.summary && rule.annotations.description,
      ).toBeTruthy();
    }
  });

  it('alerts.test.yaml: every alert fires and stays quiet as expected', async () => {
    const r = await promtool(['test', 'rules', 'alerts.test.yaml'], DIR);
    expect(r.code, r.out).toBe(0);
    // Each alert is exercised both ways: at least one case expecting it and one expecting none.
    const tests = objs(parse(await readFile(join(DIR, 'alerts.test.yaml'), 'utf8')).tests);
    const cases = tests.flatMap((t) => objs(t.alert_rule_test));
    const rules = objs(parse(await readFile(join(DIR, 'alerts.yaml'), 'utf8')).groups).flatMap((g) =>
      objs(g.rules),
    );
    for (const rule of rules) {
      const mine = cases.filter((c) => c.alertname === rule.alert);
      expect(
        mine.some((c) => objs(c.exp_alerts).length > 0),
        `${rule.alert} firing`,
      ).toBe(true);
      expect(
        mine.some((c) => objs(c.exp_alerts).length === 0),
        `${rule.alert} not firing`,
      ).toBe(true);
    }
  });

  it('scrape.yaml is a valid Prometheus config that loads alerts.yaml', async () => {
    const r = await checkConfig(await copy());
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS: 1 rule files found/);
  });

  it('scrape.yaml and podmonitor.yaml select the pods of config/kubernetes/deployment.yaml', async () => {
    const deployment = parseAllDocuments(
      await readFile(join(ROOT, 'config/kubernetes/deployment.yaml'), 'utf8'),
    )
      .map((d) => d.toJS() as Obj)
      .find((d) => d.kind === 'Deployment') as Obj;
    const template = (deployment.spec as Obj).template as Obj;
    const meta = template.metadata as { labels: Record<string, string>; annotations: Record<string, string> };
    const container = objs((template.spec as Obj).containers).find((c) => c.name === 'recorder') as Obj;
    const portName = String(objs(container.ports)[0]?.name);

    const job = objs(parse(await readFile(join(DIR, 'scrape.yaml'), 'utf8')).scrape_configs)[0] as Obj;
    expect(job.job_name).toBe('coroot-event-recorder');
    // Each `keep` rule on a pod label or annotation matches what the Deployment sets.
    const metaValue = (label: string): string | undefined => {
      const name = (s: string): string => s.replace(/[^a-zA-Z0-9_]/g, '_');
      for (const [k, v] of Object.entries(meta.labels))
        if (label === `__meta_kubernetes_pod_label_${name(k)}`) return v;
      for (const [k, v] of Object.entries(meta.annotations))
        if (label === `__meta_kubernetes_pod_annotation_${name(k)}`) return v;
      return undefined;
    };
    const keeps = objs(job.relabel_configs).filter((r) => r.action === 'keep');
    expect(keeps.length).toBeGreaterThanOrEqual(2);
    for (const rule of keeps) {
      const [label] = rule.source_labels as string[];
      const value = metaValue(String(label));
      expect(value, `${label} is not set on the pod`).toBeDefined();
      expect(new RegExp(`^(?:${String(rule.regex)})$`).test(String(value))).toBe(true);
    }

    const pm = parse(await readFile(join(DIR, 'podmonitor.yaml'), 'utf8')) as Obj;
    expect(pm.kind).toBe('PodMonitor');
    const spec = pm.spec as {
      selector: { matchLabels: Record<string, string> };
      podMetricsEndpoints: Obj[];
      jobLabel: string;
    };
    for (const [k, v] of Object.entries(spec.selector.matchLabels)) expect(meta.labels[k]).toBe(v);
    expect(spec.podMetricsEndpoints[0]?.port).toBe(portName);
    // jobLabel takes the job name from this label: it must give the name alerts.yaml selects.
    expect(meta.labels[spec.jobLabel]).toBe('coroot-event-recorder');
  });

  it.each<[string, { file: string; change: (t: string) => string }, string[]]>([
    [
      'a loss alert without its new-series clause',
      {
        file: 'alerts.yaml',
        change: (t) =>
          t.replace(
            /\n\s+or\n\s+\(coroot_event_recorder_output_drops_total > 0 unless coroot_event_recorder_output_drops_total offset 5m\)/,
            '',
          ),
      },
      ['test', 'rules', 'alerts.test.yaml'],
    ],
    [
      'a misspelled metric',
      {
        file: 'alerts.yaml',
        change: (t) => t.replace('coroot_event_recorder_output_up ==', 'coroot_event_recorder_outputs_up =='),
      },
      ['test', 'rules', 'alerts.test.yaml'],
    ],
    [
      'a threshold that never fires',
      { file: 'alerts.yaml', change: (t) => t.replace('queue_capacity > 0.8', 'queue_capacity > 1') },
      ['test', 'rules', 'alerts.test.yaml'],
    ],
    [
      'invalid PromQL',
      {
        file: 'alerts.yaml',
        change: (t) =>
          t.replace(
            'expr: coroot_event_recorder_output_up == 0',
            'expr: coroot_event_recorder_output_up == =',
          ),
      },
      ['check', 'rules', 'alerts.yaml'],
    ],
  ])('catches %s', async (_name, edit, args) => {
    const r = await promtool(args, await copy(edit));
    expect(r.code, r.out).not.toBe(0);
  });

  it('every PromQL expression of the Grafana dashboard parses (promtool check rules)', async () => {
    const exprs = grafanaExprs(
      await readFile(join(ROOT, 'config/grafana/coroot-event-recorder.json'), 'utf8'),
    );
    expect(exprs.length).toBeGreaterThan(20);
    const r = await checkExprs(exprs);
    expect(r.code, r.out).toBe(0);
    // And the check would notice a broken one.
    const broken = await checkExprs([...exprs, 'sum by (output) (rate(coroot_event_recorder_output_up[5m])']);
    expect(broken.code).not.toBe(0);
  });

  it('catches a broken relabel regex in scrape.yaml', async () => {
    const dir = await copy({ file: 'scrape.yaml', change: (t) => t.replace('regex: (.+)', 'regex: (.+') });
    expect((await checkConfig(dir)).code).not.toBe(0);
  });
});
