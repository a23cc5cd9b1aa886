import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../helpers/daemon.js';

/**
 * `tsx test/bench/profile-summary.ts [--top N] FILE.cpuprofile...`: self time per function over
 * the given V8 CPU profiles (from `npm run bench -- --cpu-prof DIR` or node's `--cpu-prof`),
 * added up, highest first, as a share of all samples. Idle time is left out of the shares
 * (`(idle)` is printed apart): what matters is where the busy CPU goes.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

/** Microseconds of self time per "function (file:line)", summed over `files`. */
function selfTimes(files: readonly string[]): Map<string, number> {
  const total = new Map<string, number>();
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const keyOf = new Map<number, string>();
    for (const n of profile.nodes) keyOf.set(n.id, label(n.callFrame));
    const samples = profile.samples ?? [];
    const deltas = profile.timeDeltas ?? [];
    // A sample's time is the gap to the next sample (V8's deltas are to the previous one).
    for (let i = 0; i < samples.length; i++) {
      const key = keyOf.get(samples[i] as number) ?? '?';
      const us = deltas[i + 1] ?? 0;
      total.set(key, (total.get(key) ?? 0) + Math.max(0, us));
    }
  }
  return total;
}

function label(frame: ProfileNode['callFrame']): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  let where = frame.url.replace(/^file:\/\//, '');
  if (where.startsWith(ROOT)) where = relative(ROOT, where);
  where = where.replace(/^.*node_modules\//, '');
  return `${name} ${where}:${frame.lineNumber + 1}`;
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '25' } },
    allowPositionals: true,
  });
  if (positionals.length === 0) {
    process.stderr.write('usage: tsx test/bench/profile-summary.ts [--top N] FILE.cpuprofile...\n');
    process.exit(2);
  }
  const times = selfTimes(positionals);
  const idle = times.get('(idle)') ?? 0;
  times.delete('(idle)');
  const busy = [...times.values()].reduce((a, b) => a + b, 0);
  const rows = [...times.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
  process.stdout.write(
    `${positionals.length} profile(s): ${(busy / 1e6).toFixed(2)} s busy, ${(idle / 1e6).toFixed(2)} s idle\n`,
  );
  for (const [key, us] of rows) {
    process.stdout.write(
      `${((100 * us) / busy).toFixed(1).padStart(5)} %  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${key}\n`,
    );
  }
}

main();
