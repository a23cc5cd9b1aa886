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
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../helpers/event-shapes.ts', import.meta.url));
const SLOW_KIND = /(SLICED|CONS|THIN)_/;
/** A marker as %DebugPrint shows a string: `[String]: "MARK …"`, `c"MARK …"` or `#MARK …`. */
const MARKER = /\[String\][^:]*: [#c>/]?"?MARK (.*?)"?$/;
const nodeMajor = Number(process.versions.node.split('.')[0]);

interface Shapes {
  kinds: Map<string, string>;
  dictionaries: string[];
}

function readShapes(): Shapes {
  // Into a file, not a pipe: node makes its stdout pipe non-blocking, and %DebugPrint's C stdio
  // writes then lose what does not fit while the reader is slow (up to a third of the output).
  const dir = mkdtempSync(join(tmpdir(), 'event-shapes-'));
  const outFile = join(dir, 'out.txt');
  const out = openSync(outFile, 'w');
  let stdout: string;
  try {
    const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', script], {
      encoding: 'utf8',
      stdio: ['ignore', out, 'pipe'],
    });
    expect(run.status, run.stderr).toBe(0);
    stdout = readFileSync(outFile, 'utf8');
  } finally {
    closeSync(out);
    rmSync(dir, { recursive: true, force: true });
  }
  const kinds = new Map<string, string>();
  const dictionaries: string[] = [];
  let done = false;
  // The value's own %DebugPrint follows its marker; the marker string's type lines come first.
  let path: string | null = null;
  let inValue = false;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('DebugPrint: ')) {
      const marker = MARKER.exec(line);
      if (marker) {
        const text = marker[1] as string;
        path = text.startsWith('STRING ') ? text.slice('STRING '.length) : null;
        inValue = false;
        if (text.startsWith('OBJECT ') && text.endsWith(' dictionary')) dictionaries.push(text);
        if (text === 'DONE') done = true;
      } else if (path !== null) {
        inValue = true;
      }
    } else if (inValue && path !== null && line.startsWith(' - type: ')) {
      kinds.set(path, line.slice(' - type: '.length));
      path = null;
      inValue = false;
    }
  }
  expect(done, 'the script printed its DONE marker').toBe(true);
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
