import { describe, expect, it } from 'vitest';
import { parseByteSize, parseDuration } from '../../../src/config/units.js';

describe('units', () => {
  it('parses Prometheus durations', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('0')).toBe(0);
    for (const bad of ['', '10', '1.5s', 's', '10S', '1m1h']) expect(parseDuration(bad)).toBeNull();
  });

  it('parses byte sizes', () => {
    expect(parseByteSize('1MiB')).toBe(1_048_576);
    expect(parseByteSize('512KiB')).toBe(524_288);
    expect(parseByteSize('10MB')).toBe(10_000_000);
    expect(parseByteSize('4096')).toBe(4096);
    for (const bad of ['1 XB', '-1', 'MiB', '1.5MiB']) expect(parseByteSize(bad)).toBeNull();
  });
});
