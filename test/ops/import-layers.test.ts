/*
 * The import layering check that `npm run lint` runs (test/ops/import-layers.ts): it finds a file
 * cycle made only of `import type`, an upward import between top-level parts, and a part that is in
 * no layer; an exception excuses only what it names, and one that matches nothing is reported stale.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/daemon.js';
import { checkImports, LAYERS as REPO_LAYERS } from './import-layers.js';

async function tree(files: Record<string, string>): Promise<string> {
  const root = await tempDir('cer-layers-');
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  await mkdir(join(root, 'cmd'), { recursive: true });
  return root;
}

const LAYERS = [['low'], ['mid'], ['high']];

describe('import layering check', () => {
  it('finds a cycle of type-only imports between files of one part', async () => {
    const root = await tree({
      'src/mid/a.ts': "import type { B } from './b.js';\nexport type A = B;\n",
      'src/mid/b.ts': "import type { A } from './a.js';\nexport type B = { a?: A };\n",
    });
    const { violations } = checkImports(root, LAYERS, new Map());
    expect(violations.map((v) => [v.kind, v.key])).toEqual([['cycle', 'src/mid/a.ts src/mid/b.ts']]);
  });

  it('refuses an import from a lower part into a higher one, and between parts of one layer', async () => {
    const root = await tree({
      'src/low.ts': "export { x } from './high/x.js';\n",
      'src/high/x.ts': 'export const x = 1;\n',
      'src/mid/y.ts': "import type { x } from '../high/x.js';\nexport type Y = typeof x;\n",
    });
    const { violations } = checkImports(root, [['low'], ['mid', 'high']], new Map());
    expect(violations.map((v) => v.key).sort()).toEqual(['low -> high', 'mid -> high']);
  });

  it('allows imports downwards and names a part that is in no layer', async () => {
    const root = await tree({
      'src/high/x.ts': "import { y } from '../mid/y.js';\nexport const x = y;\n",
      'src/mid/y.ts': "import { z } from '../low.js';\nexport const y = z;\n",
      'src/low.ts': 'export const z = 1;\n',
      'src/stray.ts': 'export const s = 1;\n',
    });
    const { violations } = checkImports(root, LAYERS, new Map());
    expect(violations.map((v) => [v.kind, v.key])).toEqual([['unknown-part', 'stray']]);
  });

  it('excuses only what an exception names and reports an exception that matches nothing', async () => {
    const root = await tree({
      'src/low.ts': "import { x } from './high/x.js';\nexport const z = x;\n",
      'src/mid/y.ts': "import { x } from '../high/x.js';\nexport const y = x;\n",
      'src/high/x.ts': 'export const x = 1;\n',
    });
    const result = checkImports(
      root,
      LAYERS,
      new Map([
        ['low -> high', 'known'],
        ['src/gone.ts', 'fixed already'],
      ]),
    );
    expect(result.violations.map((v) => v.key)).toEqual(['mid -> high']);
    expect(result.staleExceptions).toEqual(['src/gone.ts']);
  });

  it("refuses ingest importing the recorder, and the recorder importing ingest (this repository's layers)", async () => {
    const root = await tree({
      'src/recorder/recorder.ts': "import type { S } from '../ingest/server.js';\nexport type R = S;\n",
      'src/ingest/pipeline.ts':
        "import type { Intake } from '../recorder/intake.js';\nexport type P = Intake;\n",
      'src/ingest/server.ts': 'export type S = 1;\n',
      'src/recorder/intake.ts': 'export type Intake = 1;\n',
    });
    const { violations } = checkImports(root, REPO_LAYERS, new Map());
    expect(violations.map((v) => v.key).sort()).toEqual(['ingest -> recorder', 'recorder -> ingest']);
  });

  it('passes on this repository with its listed exceptions', () => {
    const result = checkImports(ROOT);
    expect(result.violations.map((v) => v.message)).toEqual([]);
    expect(result.staleExceptions).toEqual([]);
  });
});
