import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeState, StateStore } from '../../../../src/ingest/coroot-api/state-store.js';
import { Logger } from '../../../../src/log.js';

const OWNER = { url: 'https://coroot.example.com', project: 'x0xwl4jz' };

function capture(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { logger: new Logger('debug', (l) => lines.push(JSON.parse(l) as Record<string, unknown>)), lines };
}

describe('StateStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cer-state-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a missing file is a first start, silently', async () => {
    const { logger, lines } = capture();
    const state = await new StateStore(join(dir, 'none.json'), OWNER, logger).load();
    expect(state).toEqual({ initialized: false, alerts: new Map(), suppressedAt: new Map() });
    expect(lines).toEqual([]);
  });

  it('saves atomically (creating the folder) and loads back what it saved', async () => {
    const path = join(dir, 'sub/dir/state.json');
    const store = new StateStore(path, OWNER, capture().logger);
    await store.save({
      initialized: true,
      alerts: new Map([
        ['a', 'open'],
        ['b', 'suppressed'],
      ]),
      suppressedAt: new Map([['b', 1_795_248_000_000]]),
    });
    expect(await readdir(join(dir, 'sub/dir'))).toEqual(['state.json']);
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({
      version: 1,
      ...OWNER,
      alerts: { a: 'open', b: 'suppressed' },
      suppressed_updated_at: { b: 1_795_248_000_000 },
    });
    const loaded = await store.load();
    expect(loaded.initialized).toBe(true);
    expect([...loaded.alerts]).toEqual([
      ['a', 'open'],
      ['b', 'suppressed'],
    ]);
    expect([...loaded.suppressedAt]).toEqual([['b', 1_795_248_000_000]]);
  });

  it('reports a corrupt file, moves it aside and starts fresh (not fatal)', async () => {
    const path = join(dir, 'state.json');
    await writeFile(path, '{"version":1,"url":"https://coroot.exa');
    const { logger, lines } = capture();
    const store = new StateStore(path, OWNER, logger);
    expect(await store.load()).toEqual({ initialized: false, alerts: new Map(), suppressedAt: new Map() });
    expect(lines).toEqual([
      expect.objectContaining({ level: 'error', msg: expect.stringMatching(/corrupt/), state_file: path }),
    ]);
    expect(existsSync(`${path}.corrupt`)).toBe(true);
    await store.save({ initialized: true, alerts: new Map([['a', 'manual']]), suppressedAt: new Map() });
    expect((await store.load()).alerts.get('a')).toBe('manual');
  });

  it('does not use the states of another Coroot or project', async () => {
    const path = join(dir, 'state.json');
    await new StateStore(path, { ...OWNER, project: 'other' }, capture().logger).save({
      initialized: true,
      alerts: new Map([['a', 'open']]),
      suppressedAt: new Map(),
    });
    const { logger, lines } = capture();
    expect((await new StateStore(path, OWNER, logger).load()).initialized).toBe(false);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      msg: expect.stringMatching(/another Coroot or project/),
    });
  });

  it('rejects a save it cannot do, leaving no temp file behind', async () => {
    const blocker = join(dir, 'file');
    await writeFile(blocker, 'x');
    const store = new StateStore(join(blocker, 'state.json'), OWNER, capture().logger);
    await expect(
      store.save({ initialized: true, alerts: new Map(), suppressedAt: new Map() }),
    ).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['file']);
  });
});

describe('decodeState', () => {
  it.each([
    ['not JSON', 'nope'],
    ['an array', '[]'],
    ['an unknown version', JSON.stringify({ version: 2, ...OWNER, alerts: {} })],
    ['alerts not an object', JSON.stringify({ version: 1, ...OWNER, alerts: [] })],
    ['an unknown state', JSON.stringify({ version: 1, ...OWNER, alerts: { a: 'closed' } })],
  ])('refuses %s', (_name, text) => {
    expect(decodeState(text, OWNER)).toMatchObject({ ok: false, foreign: false });
  });
});
