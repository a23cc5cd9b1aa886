import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

/**
 * `npm run bench -- --cpu-prof DIR`: CPU profiles of what a scenario measures, one
 * `.cpuprofile` per measured variant, for `tsx test/bench/profile-summary.ts` or Chrome
 * DevTools. Outputs driven inside the bench process (scenarios 6 and 7) are profiled with
 * node:inspector around each variant's runs only, so a profile holds one variant and not the
 * ceiling beside it; daemons get `--cpu-prof` (daemonProfileArgs).
 */

let session: Session | null = null;
let active = false;

/**
 * Runs `fn`, profiling it into `DIR/NAME.<pid>.<time>.cpuprofile` when `dir` is set: one file
 * per call, so a variant measured in several rounds leaves one per round (the summary adds up
 * the files it is given). Not nested: a call while a profile runs just runs `fn`.
 */
export async function profiled<T>(dir: string | undefined, name: string, fn: () => Promise<T>): Promise<T> {
  if (dir === undefined || active) return fn();
  active = true;
  if (session === null) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
  }
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    active = false;
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${name}.${process.pid}.${Date.now()}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
  }
}

/**
 * Node flags for a daemon the bench starts (startDaemonProcess puts them on its command line:
 * node refuses `--cpu-prof` in NODE_OPTIONS), so that it writes `DIR/daemon-NAME.<time>.cpuprofile`
 * when it exits (SIGTERM: the daemon exits normally, so the profile is written).
 */
export function daemonProfileArgs(dir: string | undefined, name: string): string[] {
  if (dir === undefined) return [];
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=daemon-${name}.${Date.now()}.cpuprofile`];
}
