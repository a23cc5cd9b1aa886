/**
 * Every string in a parsed event is one V8 holds flat (sequential or internalized) and every
 * object has fast properties, after the Deduper has looked each key up: otherwise Node 26's
 * JSON.stringify fast path refuses the whole event and serialization costs about 3 times more
 * (src/lib/flat-string.ts, docs/operations.md "Performance on Node 26"). What V8 holds is
 * only visible with --allow-natives-syntax, so test/helpers/event-shapes.ts runs in a child
 * process and prints it; three control strings (a substring, a concatenation, a Map key)
 * prove the reading still sees the kinds it looks for.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../helpers/event-shapes.ts', import.meta.url));
const SLOW_KIND = /(SLICED|CONS|THIN)_/;
const nodeMajor = Number(process.versions.node.split('.')[0]);

interface Shapes {
  kinds: Map<string, string>;
  dictionaries: string[];
}

function readShapes(): Shapes {
  const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', script], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout.trimEnd().endsWith('DONE')).toBe(true);
  const kinds = new Map<string, string>();
  const dictionaries: string[] = [];
  let path: string | null = null;
  for (const line of run.stdout.split('\n')) {
    if (line.startsWith('STRING ')) path = line.slice('STRING '.length);
    else if (line.startsWith('OBJECT ') && line.endsWith(' dictionary')) dictionaries.push(line);
    else if (path !== null && line.startsWith(' - type: ')) {
      kinds.set(path, line.slice(' - type: '.length));
      path = null;
    }
  }
  return { kinds, dictionaries };
}

describe('events are built for the JSON.stringify fast path', () => {
  const shapes = readShapes();

  it('reads V8 string kinds (controls)', () => {
    expect(shapes.kinds.get('control.sliced')).toMatch(/SLICED_/);
    expect(shapes.kinds.get('control.cons')).toMatch(/CONS_/);
    // Only Node 26 (V8 14) leaves a Map key forwarding to the string table.
    if (nodeMajor >= 26) expect(shapes.kinds.get('control.mapKey')).toMatch(/THIN_/);
  });

  it('no string in a parsed Coroot or Alertmanager event is a slice, a concatenation or forwarding', () => {
    const events = [...shapes.kinds.keys()].filter((path) => !path.startsWith('control.'));
    expect(events.length).toBeGreaterThan(500);
    const slow = events
      .filter((path) => SLOW_KIND.test(shapes.kinds.get(path) ?? ''))
      .map((path) => `${path}: ${shapes.kinds.get(path)}`);
    expect(slow).toEqual([]);
  });

  it('no object in a parsed event is in dictionary mode', () => {
    expect(shapes.dictionaries).toEqual([]);
  });
});
