import { describe, expect, it } from 'vitest';
import { errnoCode } from '../../../src/lib/errno.js';

describe('errnoCode', () => {
  it('reads the code of a system error', () => {
    expect(errnoCode(Object.assign(new Error('gone'), { code: 'ENOENT' }))).toBe('ENOENT');
  });

  it('is undefined for anything without a string code', () => {
    for (const value of [new Error('plain'), { code: 5 }, 'ENOENT', null, undefined, 42]) {
      expect(errnoCode(value)).toBeUndefined();
    }
  });
});
