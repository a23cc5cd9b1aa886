import { describe, expect, it } from 'vitest';
import { redactor } from '../../../src/lib/redact.js';

describe('redactor', () => {
  it('replaces every occurrence, the longest secret first', () => {
    const redact = redactor(['pass', 'password1', null, undefined, '']);
    expect(redact('password1 then pass then password1')).toBe('<redacted> then <redacted> then <redacted>');
  });

  it('ignores secrets shorter than the minimum length', () => {
    expect(redactor(['ab', 'secret'], 3)('ab secret')).toBe('ab <redacted>');
    expect(redactor([], 3)('untouched')).toBe('untouched');
  });
});
