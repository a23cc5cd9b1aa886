/*
 * config/grafana/coroot-event-recorder.json is an importable dashboard with the panels the
 * README promises. (That its metric names exist is checked against a live daemon in
 * test/ops/live-metrics.test.ts; that its PromQL parses, by promtool in
 * test/ops/promtool.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/daemon.js';

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: unknown }> };
}

const TEXT = readFileSync(join(ROOT, 'config/grafana/coroot-event-recorder.json'), 'utf8');

function problems(d: Dashboard): string[] {
  const out: string[] = [];
  if (!d.uid || !d.title) out.push('uid and title are required');
  if (!(d.schemaVersion !== undefined && d.schemaVersion >= 36))
    out.push(`schemaVersion ${d.schemaVersion} is too old`);
  const ds = d.templating.list.find((v) => v.type === 'datasource');
  if (ds?.query !== 'prometheus') out.push('needs a Prometheus datasource variable');
  const dsRef = ds ? `\${${ds.name}}` : '';
  const panels = d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const ids = panels.map((p) => p.id);
  if (new Set(ids).size !== ids.length || ids.some((id) => id === undefined))
    out.push('panel ids must be unique');
  const boxes: Array<{ title: string; x: number; y: number; w: number; h: number }> = [];
  for (const p of panels) {
    const g = p.gridPos;
    if (!g || g.x < 0 || g.w <= 0 || g.h <= 0 || g.x + g.w > 24) out.push(`${p.title}: bad gridPos`);
    else {
      for (const b of boxes) {
        if (g.x < b.x + b.w && b.x < g.x + g.w && g.y < b.y + b.h && b.y < g.y + g.h) {
          out.push(`${p.title} overlaps ${b.title}`);
        }
      }
      boxes.push({ title: p.title ?? '', ...g });
    }
    if (p.type === 'row') continue;
    if (!p.title || !p.description) out.push(`panel ${p.id}: needs a title and a description`);
    if (p.datasource?.uid !== dsRef) out.push(`${p.title}: datasource must be ${dsRef}`);
    const targets = p.targets ?? [];
    if (targets.length === 0) out.push(`${p.title}: no query`);
    const refs = targets.map((t) => t.refId);
    if (new Set(refs).size !== refs.length) out.push(`${p.title}: duplicate refId`);
    for (const t of targets) {
      if (!t.expr) out.push(`${p.title}: a target without expr`);
      if (t.datasource?.uid !== dsRef) out.push(`${p.title}: a target not on ${dsRef}`);
      if (t.expr && !/job=~"\$job", instance=~"\$instance"/.test(t.expr)) {
        out.push(`${p.title}: ${t.expr} ignores the $job/$instance variables`);
      }
    }
  }
  // The panels the README promises, found by what they query.
  const exprs = (p: Panel): string => (p.targets ?? []).map((t) => t.expr ?? '').join('\n');
  const has = (what: string, test: (e: string) => boolean): void => {
    if (!panels.some((p) => test(exprs(p)))) out.push(`no panel shows ${what}`);
  };
  has('ingest rate by source and type', (e) =>
    /by \(source, type\) \(rate\(\w+_events_received_total/.test(e),
  );
  has('queue length vs capacity', (e) => e.includes('_queue_length{') && e.includes('_queue_capacity{'));
  has('delivered per output', (e) =>
    /by \(output\) \(rate\(\w+_output_events_total\{[^}]*result="written"/.test(e),
  );
  has('lost per output by reason', (e) => /by \(output, reason\) \(rate\(\w+_output_drops_total/.test(e));
  has('delivery latency per output', (e) =>
    /histogram_quantile\(.*by \(output, le\).*_output_send_duration_seconds_bucket/.test(e),
  );
  has('output up', (e) => e.includes('_output_up{'));
  has('reload status', (e) => e.includes('_config_last_reload_successful{'));
  has('Coroot API polls', (e) => e.includes('_coroot_api_polls_total{'));
  return out;
}

describe('Grafana dashboard', () => {
  it('is an importable dashboard with every promised panel', () => {
    expect(problems(JSON.parse(TEXT) as Dashboard)).toEqual([]);
  });

  it.each<[string, (t: string) => string, RegExp]>([
    [
      'no queue capacity',
      (t) => t.replaceAll('_queue_capacity{', '_queue_length{'),
      /queue length vs capacity/,
    ],
    [
      'a hard-coded datasource',
      (t) => t.replaceAll('"uid": "${datasource}"', '"uid": "prom-1"'),
      /datasource must be/,
    ],
    [
      'no reason breakdown',
      (t) => t.replaceAll('sum by (output, reason)', 'sum by (output)'),
      /lost per output by reason/,
    ],
    ['a query ignoring $instance', (t) => t.replace(', instance=~\\"$instance\\"', ''), /ignores/],
  ])('catches %s', (_name, breakIt, expected) => {
    const broken = breakIt(TEXT);
    expect(broken).not.toBe(TEXT);
    expect(problems(JSON.parse(broken) as Dashboard).join('\n')).toMatch(expected);
  });
});
