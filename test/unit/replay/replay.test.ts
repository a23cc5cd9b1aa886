import { describe, expect, it } from 'vitest';
import { formatSummary, type ReplaySummary, replayExitCode } from '../../../src/replay/replay.js';

describe('replay summary', () => {
  const base: ReplaySummary = {
    output: 'hook',
    kind: 'webhook',
    dryRun: false,
    files: 3,
    read: 10,
    selected: 8,
    delivered: 8,
    failed: 0,
    malformed: 1,
    failedBy: {},
    unreadable: 0,
    interrupted: false,
  };

  it('exit 0 only when every selected event was delivered and every file read', () => {
    expect(replayExitCode(base)).toBe(0);
    expect(replayExitCode({ ...base, delivered: 7, failed: 1 })).toBe(1);
    expect(replayExitCode({ ...base, unreadable: 1 })).toBe(1);
    expect(replayExitCode({ ...base, interrupted: true })).toBe(1);
    expect(replayExitCode({ ...base, dryRun: true, delivered: 0 })).toBe(0);
  });

  it('lists failures by reason', () => {
    expect(formatSummary({ ...base, delivered: 5, failed: 3, failedBy: { shutdown: 1, rejected: 2 } })).toBe(
      'replay to output "hook" (webhook): read 10, selected 8, delivered 5, failed 3, malformed 1\n' +
        '  failed by reason: rejected 2, shutdown 1\n',
    );
  });
});
