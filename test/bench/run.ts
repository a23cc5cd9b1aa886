import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT } from '../helpers/daemon.js';
import { benchAcksAlertmanager, benchAcksLatency } from './acks.bench.js';
import { benchAlertmanager } from './alertmanager.bench.js';
import { benchDeliveryLatency } from './delivery-latency.bench.js';
import { benchIngest } from './ingest.bench.js';
import { benchKafka } from './kafka.bench.js';
import { prestartBroker, stopBroker } from './kafka-broker.js';
import { benchLatency } from './latency.bench.js';
import { benchOverload } from './overload.bench.js';
import { benchRecord } from './record.bench.js';
import { benchScaling } from './scaling.bench.js';
import type { BenchOptions, BenchResult } from './types.js';
import { benchWebhook } from './webhook.bench.js';

/**
 * `npm run bench [-- --quick] [-- --out FILE] [-- --only NAME,...] [-- --build] [-- --node PATH ...] [-- --cpu-prof DIR]`:
 * runs every scenario, prints a table and writes JSON with the machine's facts. It measures; it
 * asserts nothing. `--only` takes scenario numbers or short names: `--only 1,latency,kafka`. dist/ is
 * rebuilt first when a source is newer than it, or always with `--build`.
 *
 * `--node PATH` runs the whole bench (daemon, ceilings, load generators) under that Node binary;
 * given more than once, it runs once per binary, writes one JSON per runtime next to `--out`
 * (`results.node-v26.12.1.json`) and prints the runtimes side by side.
 *
 * `--cpu-prof DIR` writes CPU profiles of the measured variants to DIR (cpu-profile.ts);
 * `tsx test/bench/profile-summary.ts DIR/NAME*` sums their self time per function.
 *
 * `BENCH_DAEMON_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=DIR"` passes node flags to every daemon
 * the bench starts (not to the load generators or ceilings): one .cpuprofile per daemon in DIR.
 * `BENCH_DAEMON_NODE=PATH` runs those daemons on another Node binary while the load generators
 * and ceilings stay on the bench's own (the JSON then names both).
 */
interface Scenario {
  id: number;
  name: string;
  run: (o: BenchOptions) => Promise<BenchResult[]>;
  /** Needs the Kafka broker (started once, shared). */
  kafka?: boolean;
}

const SCENARIOS: Scenario[] = [
  { id: 1, name: 'record', run: benchRecord },
  { id: 2, name: 'ingest', run: benchIngest },
  { id: 3, name: 'alertmanager', run: benchAlertmanager },
  { id: 4, name: 'latency', run: benchLatency },
  { id: 5, name: 'overload', run: benchOverload },
  { id: 6, name: 'webhook', run: benchWebhook },
  { id: 7, name: 'kafka', run: benchKafka, kafka: true },
  { id: 8, name: 'scaling', run: benchScaling, kafka: true },
  { id: 9, name: 'acks', run: benchAcksLatency },
  { id: 10, name: 'acks-alertmanager', run: benchAcksAlertmanager },
  { id: 11, name: 'delivery-latency', run: benchDeliveryLatency, kafka: true },
];

function selected(only: string | undefined): Scenario[] {
  if (!only) return SCENARIOS;
  const wanted = only.split(',').map((s) => s.trim().toLowerCase());
  for (const w of wanted) {
    if (!SCENARIOS.some((s) => String(s.id) === w || s.name === w)) {
      throw new Error(
        `--only: unknown scenario "${w}"; known: ${SCENARIOS.map((s) => `${s.id}|${s.name}`).join(', ')}`,
      );
    }
  }
  return SCENARIOS.filter((s) => wanted.includes(String(s.id)) || wanted.includes(s.name));
}

/** The newest (or oldest) modification time of the files under `path` that `keep` picks. */
function mtimes(
  path: string,
  keep: (file: string) => boolean,
  pick: (a: number, b: number) => number,
): number {
  if (!existsSync(path)) return Number.NaN;
  const st = statSync(path);
  if (!st.isDirectory()) return keep(path) ? st.mtimeMs : Number.NaN;
  let acc = Number.NaN;
  for (const entry of readdirSync(path)) {
    const m = mtimes(join(path, entry), keep, pick);
    if (!Number.isNaN(m)) acc = Number.isNaN(acc) ? m : pick(acc, m);
  }
  return acc;
}

/**
 * Whether dist/ is older than what it is built from. tsc rewrites every output on each
 * build, so the oldest .js in dist/ is the time of the last complete build.
 */
function distIsStale(): boolean {
  const built = mtimes(join(ROOT, 'dist'), (f) => f.endsWith('.js'), Math.min);
  const sources = ['src', 'cmd', 'tsconfig.json', 'tsconfig.build.json', 'package.json'].map((p) =>
    mtimes(join(ROOT, p), () => true, Math.max),
  );
  return Number.isNaN(built) || sources.some((m) => Number.isNaN(m) || m > built);
}

/** `npm run build`, asynchronously, so a broker can boot meanwhile. */
function build(): Promise<void> {
  return new Promise((resolveBuild, reject) => {
    const child = spawn('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolveBuild() : reject(new Error(`build exited with ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      out: { type: 'string' },
      only: { type: 'string' },
      build: { type: 'boolean' },
      node: { type: 'string', multiple: true },
      'cpu-prof': { type: 'string' },
    },
  });
  if (values.node !== undefined && values.node.length > 0) {
    await underOtherNodes(values.node, values);
    return;
  }
  const opts: BenchOptions = {
    quick: values.quick === true,
    context: {},
    ...(values['cpu-prof'] !== undefined ? { cpuProfDir: resolve(values['cpu-prof']) } : {}),
  };
  const out = resolve(values.out ?? resolve(ROOT, 'bench/results.json'));
  const scenarios = selected(values.only);
  // A quick run boots the broker while tsc builds, when nothing is being measured; a full
  // run boots it when the first Kafka scenario needs it, so it never idles beside the others.
  if (opts.quick && scenarios.some((s) => s.kafka)) prestartBroker();
  const results: BenchResult[] = [];
  try {
    // The daemon under test is dist/: rebuild it when any source is newer (or always with --build).
    if (values.build === true || distIsStale()) await build();
    else process.stderr.write('dist/ is newer than every source: not rebuilding (--build forces it)\n');
    for (const s of scenarios) {
      process.stderr.write(`running ${s.id} ${s.name}${opts.quick ? ' (quick)' : ''}...\n`);
      const t0 = Date.now();
      try {
        results.push(...(await s.run(opts)));
      } catch (err) {
        results.push({
          scenario: `${s.id} ${s.name}`,
          unit: '',
          value: Number.NaN,
          note: `failed: ${(err as Error).message}`,
        });
      }
      process.stderr.write(`  ${s.id} ${s.name}: ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
    }
  } finally {
    await stopBroker();
  }
  printTable(results);
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
  } catch {
    // not a git checkout
  }
  const report = {
    date: new Date().toISOString(),
    commit,
    node: process.version,
    node_path: process.execPath,
    ...(process.env.BENCH_DAEMON_NODE ? { daemon_node_path: process.env.BENCH_DAEMON_NODE } : {}),
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    quick: opts.quick,
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    results,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(
    `\nresults written to ${out} (commit ${commit}, node ${process.version}, ${cpus().length} CPUs)\n`,
  );
}

interface Report {
  node: string;
  results: BenchResult[];
}

/** The version a Node binary reports. */
function versionOf(node: string): string {
  return execFileSync(node, ['--version']).toString().trim();
}

/**
 * Runs this script once per Node binary, that binary's folder first on PATH so whatever the bench
 * spawns by name runs on it too; with more than one, each JSON goes next to `--out` and the
 * runtimes are printed side by side.
 */
async function underOtherNodes(
  nodes: string[],
  values: { quick?: boolean; out?: string; only?: string; build?: boolean; 'cpu-prof'?: string },
): Promise<void> {
  const out = resolve(values.out ?? resolve(ROOT, 'bench/results.json'));
  if (values.build === true || distIsStale()) await build();
  const reports: Report[] = [];
  for (const node of nodes.map((n) => resolve(n))) {
    const version = versionOf(node);
    const file = nodes.length === 1 ? out : out.replace(/(\.json)?$/, `.node-${version}.json`);
    const args = [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--out',
      file,
      ...(values.quick === true ? ['--quick'] : []),
      ...(values.only !== undefined ? ['--only', values.only] : []),
      ...(values['cpu-prof'] !== undefined ? ['--cpu-prof', resolve(values['cpu-prof'], version)] : []),
    ];
    process.stderr.write(`\n=== bench on node ${version} (${node})\n`);
    const code = await new Promise<number | null>((done, reject) => {
      const child = spawn(node, args, {
        cwd: ROOT,
        stdio: 'inherit',
        env: { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}` },
      });
      child.once('error', reject);
      child.once('exit', (c) => done(c));
    });
    if (code !== 0) throw new Error(`bench on ${node} exited with ${code}`);
    reports.push(JSON.parse(readFileSync(file, 'utf8')) as Report);
  }
  if (reports.length > 1) printSideBySide(reports);
}

/** One row per figure, one column per runtime: value, and the ratio to its ceiling where there is one. */
function printSideBySide(reports: Report[]): void {
  const keys: string[] = [];
  for (const r of reports) {
    for (const x of r.results) {
      const key = `${x.scenario} (${x.unit})`;
      if (!keys.includes(key)) keys.push(key);
    }
  }
  const cell = (x: BenchResult | undefined): string =>
    x === undefined ? '' : `${x.value}${x.ratio !== undefined ? ` (ratio ${x.ratio})` : ''}`;
  const header = ['scenario', ...reports.map((r) => `node ${r.node}`)];
  const rows = keys.map((key) => [
    key,
    ...reports.map((r) => cell(r.results.find((x) => `${x.scenario} (${x.unit})` === key))),
  ]);
  process.stdout.write(`\n| ${header.join(' | ')} |\n|${header.map(() => ' --- ').join('|')}|\n`);
  for (const row of rows) process.stdout.write(`| ${row.join(' | ')} |\n`);
}

function printTable(results: BenchResult[]): void {
  const rows = results.map((r) => [
    r.scenario,
    `${r.value} ${r.unit}`,
    r.ceiling !== undefined ? `${r.ceiling} ${r.unit}` : '',
    r.ratio !== undefined ? String(r.ratio) : '',
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    // One line per row: a failure's message may carry a stack or a log excerpt.
    (r.note ?? '').replace(/\s+/g, ' '),
  ]);
  const header = ['scenario', 'value', 'ceiling', 'ratio', 'target', 'met', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cols: string[]): string =>
    `| ${cols.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  process.stdout.write(`\n${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
