import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ROOT } from './daemon.js';
import { waitFor } from './wait.js';

/** Runs test/helpers/disk-output-child.ts until it committed `events`, then SIGKILLs it. */
export async function feedAndKill(
  kind: 'webhook' | 'kafka',
  config: unknown,
  dataDir: string,
  events: number,
): Promise<void> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/helpers/disk-output-child.ts'), kind, dataDir, String(events)],
    {
      cwd: ROOT,
      env: { ...process.env, OUTPUT_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise((r) => child.on('exit', r));
  await waitFor(() => /committed (\d+)/.exec(out), { timeoutMs: 60_000, what: 'child committed' });
  expect(out).toContain(`committed ${events}`);
  child.kill('SIGKILL');
  await exited;
}
