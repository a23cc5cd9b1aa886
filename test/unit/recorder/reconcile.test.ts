import { describe, expect, it } from 'vitest';
import type { OutputConfig } from '../../../src/outputs/registry.js';
import { planReconcile, type RunningOutput } from '../../../src/recorder/reconcile.js';
import { CollectingOutput } from '../../helpers/collecting-output.js';
import { configOf } from '../../helpers/config.js';

/** Outputs of a YAML text, parsed exactly as a reload parses them (secrets from `files`). */
function outputsOf(yaml: string, files: Record<string, string> = {}): OutputConfig[] {
  return configOf(yaml, {}, files).outputs;
}

/** Plans, counting which configs `create` was asked to build. */
function plan(running: readonly RunningOutput[], wanted: readonly OutputConfig[]) {
  const created: string[] = [];
  const p = planReconcile(running, wanted, (c) => {
    created.push(c.name);
    // Stands in for a real output: only its identity matters to the plan.
    return new CollectingOutput(c.name);
  });
  return { ...p, created };
}

/** What the daemon runs after starting on `yaml`. */
function runningFrom(yaml: string, files: Record<string, string> = {}): RunningOutput[] {
  return plan([], outputsOf(yaml, files)).next;
}

const names = (list: readonly RunningOutput[]): string[] => list.map((r) => r.output.name);

const BASE = `
file_outputs:
  - path: /var/log/a.jsonl
  - path: /var/log/b.jsonl
    fsync: always
webhook_outputs:
  - url: https://hooks.example.com/in
    timeout: 5s
kafka_outputs:
  - brokers: [k1:9092, k2:9092]
    topic: events
`;
const A = 'file:/var/log/a.jsonl';
const B = 'file:/var/log/b.jsonl';
const W = 'webhook:https://hooks.example.com/in';
const K = 'kafka:events@k1:9092';

describe('planReconcile', () => {
  it('starts everything when nothing runs, in file order', () => {
    const p = plan([], outputsOf(BASE));
    expect(p.created).toEqual([A, B, W, K]);
    expect(names(p.added)).toEqual([A, B, W, K]);
    expect(names(p.next)).toEqual([A, B, W, K]);
    expect(p.kept).toEqual([]);
    expect(p.removed).toEqual([]);
  });

  it('keeps every output of a re-parsed identical file: same objects, nothing built', () => {
    const running = runningFrom(BASE);
    const p = plan(running, outputsOf(BASE));
    expect(p.created).toEqual([]);
    expect(p.added).toEqual([]);
    expect(p.removed).toEqual([]);
    expect(names(p.kept)).toEqual([A, B, W, K]);
    for (const [i, slot] of p.next.entries()) expect(slot.output).toBe(running[i]?.output);
  });

  it('ignores comments, key order, quoting and spelled-out defaults', () => {
    const running = runningFrom(BASE);
    const rewritten = `
# moved around, same meaning
kafka_outputs:
  - topic: "events"
    brokers:
      - k1:9092
      - k2:9092
webhook_outputs:
  - timeout: 5000ms
    url: 'https://hooks.example.com/in'
    workers: 4
file_outputs:
  - path: /var/log/a.jsonl
    fsync: interval
  - fsync: always
    path: /var/log/b.jsonl
`;
    const p = plan(running, outputsOf(rewritten));
    expect(p.created).toEqual([]);
    expect(p.removed).toEqual([]);
    // The new order is the file's order: outputs are fanned out in that order.
    expect(names(p.next)).toEqual([A, B, W, K]);
    for (const slot of p.next) expect(running.some((r) => r.output === slot.output)).toBe(true);
  });

  it('a filter-only change keeps the output running and changes only its slot', () => {
    const running = runningFrom(BASE);
    const filtered = BASE.replace(
      '    fsync: always\n',
      '    fsync: always\n    event_types: [alert_firing]\n    min_severity: warning\n',
    );
    const p = plan(running, outputsOf(filtered));
    expect(p.created).toEqual([]);
    const b = p.next.find((s) => s.output.name === B);
    expect(b?.output).toBe(running[1]?.output);
    expect(b?.filter).toEqual({ eventTypes: ['alert_firing'], sources: null, minSeverity: 'warning' });
    expect(running[1]?.filter.eventTypes).toBeNull();
  });

  it('replaces an output whose settings changed: new one added, old one handed back', () => {
    const running = runningFrom(BASE);
    const p = plan(running, outputsOf(BASE.replace('timeout: 5s', 'timeout: 6s')));
    expect(p.created).toEqual([W]);
    expect(names(p.added)).toEqual([W]);
    expect(names(p.removed)).toEqual([W]);
    expect(p.removed[0]?.output).toBe(running[2]?.output);
    expect(p.added[0]?.output).not.toBe(running[2]?.output);
    expect(names(p.kept)).toEqual([A, B, K]);
    expect(names(p.next)).toEqual([A, B, W, K]);
  });

  it('replaces a Kafka output when its brokers change, keeps it otherwise', () => {
    const running = runningFrom(BASE);
    const p = plan(running, outputsOf(BASE.replace('[k1:9092, k2:9092]', '[k1:9092, k3:9092]')));
    expect(p.created).toEqual([K]);
    expect(names(p.removed)).toEqual([K]);
    expect(names(p.kept)).toEqual([A, B, W]);
  });

  it('removes outputs that are gone and adds new ones, keeping the rest', () => {
    const running = runningFrom(BASE);
    const next = `
file_outputs:
  - path: /var/log/b.jsonl
    fsync: always
  - path: /var/log/c.jsonl
kafka_outputs:
  - brokers: [k1:9092, k2:9092]
    topic: events
`;
    const p = plan(running, outputsOf(next));
    expect(names(p.removed)).toEqual([A, W]);
    expect(names(p.added)).toEqual(['file:/var/log/c.jsonl']);
    expect(names(p.kept)).toEqual([B, K]);
    expect(names(p.next)).toEqual([B, 'file:/var/log/c.jsonl', K]);
  });

  it('renaming an output is a new output even with the same settings', () => {
    const running = runningFrom(BASE);
    const p = plan(
      running,
      outputsOf(
        BASE.replace('  - path: /var/log/a.jsonl\n', '  - name: audit\n    path: /var/log/a.jsonl\n'),
      ),
    );
    expect(names(p.added)).toEqual(['audit']);
    expect(names(p.removed)).toEqual([A]);
  });

  it('a changed secret file replaces the output that uses it (the connection must re-authenticate)', () => {
    const yaml = `
webhook_outputs:
  - url: https://hooks.example.com/in
    basic_auth: { username: rec, password_file: /run/secrets/hook }
  - url: https://other.example.com/in
`;
    const running = runningFrom(yaml, { '/run/secrets/hook': 'old\n' });
    const same = plan(running, outputsOf(yaml, { '/run/secrets/hook': 'old' }));
    // The trailing newline Kubernetes secrets carry is trimmed: not a change.
    expect(same.created).toEqual([]);
    const changed = plan(running, outputsOf(yaml, { '/run/secrets/hook': 'new' }));
    expect(names(changed.added)).toEqual([W]);
    expect(names(changed.removed)).toEqual([W]);
    expect(names(changed.kept)).toEqual(['webhook:https://other.example.com/in']);
  });

  it('removes everything when the outputs are all gone', () => {
    const running = runningFrom(BASE);
    const p = plan(running, outputsOf('instance: x\n'));
    expect(p.next).toEqual([]);
    expect(names(p.removed)).toEqual([A, B, W, K]);
    expect(p.created).toEqual([]);
  });
});
