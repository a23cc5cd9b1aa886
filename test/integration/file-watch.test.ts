/*
 * The file output's folder watch on its own: the periodic check is pushed out of the
 * test's reach, so only the watch can notice that the file was rotated or deleted.
 */
import { mkdtemp, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serializeEvent } from '../../src/events/serialize.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/registry.js';
import type { FileOutputConfig } from '../../src/outputs/file/config.js';
import { FileOutput } from '../../src/outputs/file/output.js';
import { fileOutputConfig } from '../helpers/config.js';
import { testAlertEvent } from '../helpers/events.js';
import { registrySum } from '../helpers/metrics.js';
import { idsIn } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';

const OUTPUT = 'file-watch-test';
const NEVER = 600_000;

function fileConfig(path: string): FileOutputConfig {
  return fileOutputConfig(OUTPUT, path);
}

const dirs: string[] = [];
const outputs: FileOutput[] = [];
afterEach(async () => {
  await Promise.all(outputs.splice(0).map((o) => o.close(1000)));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function setup(recreateGraceMs: number) {
  const dir = await mkdtemp(join(tmpdir(), 'cer-file-watch-'));
  dirs.push(dir);
  const path = join(dir, 'events.jsonl');
  const metrics = new Metrics('test', { defaultMetrics: false });
  const output = new FileOutput(
    fileConfig(path),
    { metrics, logger: silentLogger, version: 'test' },
    { checkIntervalMs: NEVER, recreateGraceMs },
  );
  outputs.push(output);
  let seq = 0;
  const ids: string[] = [];
  const send = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const event = testAlertEvent(seq++, { alert: { rule: 'file-watch-test' } });
      expect(output.send(serializeEvent(event), event)).toBe(true);
      ids.push(event.id);
    }
  };
  const metric = (name: string, labels: Record<string, string> = {}): Promise<number> =>
    registrySum(metrics.registry, `coroot_event_recorder_${name}`, { output: OUTPUT, ...labels });
  const waitWritten = (n: number): Promise<unknown> =>
    waitFor(async () => (await metric('output_events_total', { result: 'written' })) === n, {
      what: `${n} events written`,
    });
  return { dir, path, output, send, ids, metric, waitWritten };
}

describe('FileOutput folder watch', () => {
  it('notices a rename + create rotation without the periodic check', async () => {
    const { path, output, send, ids, metric, waitWritten } = await setup(NEVER);
    output.start();
    // Many appends first: each is a folder event the watch must shrug off.
    for (let i = 0; i < 20; i++) {
      send(10);
      await waitWritten((i + 1) * 10);
    }
    expect(await metric('file_reopens_total')).toBe(0);

    await rename(path, `${path}.1`);
    const created = await open(path, 'wx', 0o640);
    await created.close();
    await waitFor(async () => (await metric('file_reopens_total')) === 1, { what: 'the reopen' });
    send(5);
    await waitWritten(205);
    expect(await idsIn(`${path}.1`)).toEqual(ids.slice(0, 200));
    expect(await idsIn(path)).toEqual(ids.slice(200));
  });

  it('notices a delete and recreates the file without the periodic check', async () => {
    const { dir, path, output, send, ids, metric, waitWritten } = await setup(NEVER);
    output.start();
    send(5);
    await waitWritten(5);
    await unlink(path);
    await waitFor(async () => (await metric('file_reopens_total')) === 1, { what: 'the reopen' });
    send(5);
    await waitWritten(10);
    expect(await readdir(dir)).toEqual(['events.jsonl']);
    expect(await idsIn(path)).toEqual(ids.slice(5));
  });
});
