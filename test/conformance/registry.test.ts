import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OUTPUT_TYPES } from '../../src/outputs/registry.js';
import { ROOT } from '../helpers/daemon.js';

describe('output conformance covers the registry', () => {
  it.each(OUTPUT_TYPES.map((t) => t.type))('%s has its conformance fixture', (type) => {
    const file = join(ROOT, 'test/conformance', `${type}.test.ts`);
    expect(existsSync(file), `${file}: add a fixture and call conformance('${type}', ...)`).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain(`conformance('${type}',`);
  });
});
