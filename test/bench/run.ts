import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchIngest } from './ingest.bench.js';
import { ROOT } from './processes.js';
import { benchRecord } from './record.bench.js';
import type { BenchOptions, BenchResult } from './types.js';

/**
 * `npm run bench [-- --quick] [-- --out FILE] [-- --only NAME,...]`: runs every scenario,
 * prints a table and writes JSON with the machine's facts. It measures; it asserts nothing.
 */
type Scenario = { name: string; run: (o: BenchOptions) => Promise<BenchResult[]> };

async function optional(modulePath: string, exportName: string): Promise<Scenario['run'] | null> {
  try {
    const mod = (await import(modulePath)) as Record<string, unknown>;
    const fn = mod[exportName];
    return typeof fn === 'function' ? (fn as Scenario['run']) : null;
  } catch (err) {
    process.stderr.write(`skipping ${modulePath}: ${(err as Error).message}\n`);
    return null;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean' }, out: { type: 'string' }, only: { type: 'string' } },
  });
  const opts: BenchOptions = { quick: values.quick === true };
  const out = resolve(values.out ?? resolve(ROOT, 'bench/results.json'));
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });

  const scenarios: Scenario[] = [
    { name: 'record', run: benchRecord },
    { name: 'ingest', run: benchIngest },
  ];
  const webhook = await optional('./webhook.bench.js', 'benchWebhook');
  if (webhook) scenarios.push({ name: 'webhook', run: webhook });
  const kafka = await optional('./kafka.bench.js', 'benchKafka');
  if (kafka) scenarios.push({ name: 'kafka', run: kafka });

  const only = values.only ? new Set(values.only.split(',')) : null;
  const results: BenchResult[] = [];
  for (const s of scenarios) {
    if (only && !only.has(s.name)) continue;
    process.stderr.write(`running ${s.name}${opts.quick ? ' (quick)' : ''}...\n`);
    try {
      results.push(...(await s.run(opts)));
    } catch (err) {
      results.push({
        scenario: s.name,
        unit: '',
        value: Number.NaN,
        note: `failed: ${(err as Error).message}`,
      });
    }
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
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    quick: opts.quick,
    results,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(
    `\nresults written to ${out} (commit ${commit}, node ${process.version}, ${cpus().length} CPUs)\n`,
  );
}

function printTable(results: BenchResult[]): void {
  const rows = results.map((r) => [
    r.scenario,
    `${r.value} ${r.unit}`,
    r.ceiling !== undefined ? `${r.ceiling} ${r.unit}` : '',
    r.ratio !== undefined ? String(r.ratio) : '',
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    r.note ?? '',
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
