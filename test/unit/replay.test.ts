import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseEventLine } from '../../src/replay/envelope.js';
import { type LineItem, readLines } from '../../src/replay/lines.js';
import { formatEta, progressLine, RateMeter, startProgress } from '../../src/replay/progress.js';
import { formatSummary, type ReplaySummary, replayExitCode } from '../../src/replay/replay.js';
import { parseSelection, parseTimeBound, selects } from '../../src/replay/selection.js';
import { tempDir } from '../helpers/daemon.js';
import { auditEvent } from '../helpers/replay.js';

async function collect(path: string): Promise<LineItem[]> {
  const out: LineItem[] = [];
  for await (const item of readLines(path)) out.push(item);
  return out;
}

describe('replay selection', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');

  it('takes RFC 3339 times with any zone and durations back from now', () => {
    expect(parseTimeBound('2026-11-21T11:41:44Z', now)).toBe(Date.parse('2026-11-21T11:41:44Z'));
    expect(parseTimeBound('2026-11-21T12:41:44.5+01:00', now)).toBe(Date.parse('2026-11-21T11:41:44.5Z'));
    expect(parseTimeBound('24h', now)).toBe(now - 86_400_000);
    expect(parseTimeBound('1d12h', now)).toBe(now - 36 * 3_600_000);
    for (const bad of ['2026-11-21', '2026-11-21T11:41:44', 'yesterday', '-1h', '']) {
      expect(parseTimeBound(bad, now), bad).toBeNull();
    }
  });

  it('selects [since, until) by @timestamp, and by type and source', () => {
    // Event i is at 00:0i; types cycle firing/resolved/deployment; i = 3, 7 come from Alertmanager.
    const r = parseSelection(
      {
        since: '2026-11-01T00:02:00Z',
        until: '2026-11-01T00:06:00Z',
        type: 'alert_firing, deployment',
        source: 'coroot',
      },
      now,
    );
    if (!r.ok) throw new Error(r.error);
    const picked = Array.from({ length: 8 }, (_, i) => auditEvent(i))
      .filter((e) => selects(r.selection, e, Date.parse(e['@timestamp'])))
      .map((e) => [e['@timestamp'].slice(11, 16), e.type, e.source]);
    // 00:02 is in (since is inclusive), 00:06 (alert_firing, coroot) is out (until is exclusive),
    // 00:03 is from Alertmanager, 00:04 is a resolve.
    expect(picked).toEqual([
      ['00:02', 'deployment', 'coroot'],
      ['00:05', 'deployment', 'coroot'],
    ]);
  });

  it('names what is wrong', () => {
    const err = (flags: Parameters<typeof parseSelection>[0]): string => {
      const r = parseSelection(flags, now);
      return r.ok ? '' : r.error;
    };
    expect(err({ since: 'soon' })).toMatch(/^--since must be an RFC 3339 time .* got "soon"$/);
    expect(err({ since: '1h', until: '2h' })).toBe('--since must be before --until');
    expect(err({ type: 'alert_firing,alert' })).toMatch(
      /^--type: unknown type "alert" \(known: alert_firing, /,
    );
    expect(err({ source: ',' })).toBe('--source needs at least one name');
  });
});

describe('replay envelope', () => {
  it('accepts an event line and rejects what is not one, saying why', () => {
    const event = auditEvent(1);
    const ok = parseEventLine(Buffer.from(JSON.stringify(event)));
    expect(ok).toEqual({ ok: true, event, timestampMs: Date.parse(event['@timestamp']) });
    const why = (text: string): string => {
      const r = parseEventLine(Buffer.from(text));
      return r.ok ? '' : r.reason;
    };
    expect(why('nope')).toMatch(/^not JSON: /);
    expect(why('[1]')).toBe('not a JSON object');
    expect(why(JSON.stringify({ ...event, id: 7 }))).toBe('no "id" string');
    expect(why(JSON.stringify({ ...event, '@timestamp': 'later' }))).toBe('no valid "@timestamp"');
    expect(why(JSON.stringify({ ...event, data: null }))).toBe('no "data" object');
  });
});

describe('replay line reader', () => {
  it('reads plain and gzip files alike, keeping each line byte for byte with its newline', async () => {
    const dir = await tempDir();
    // Lines longer than a read chunk, so lines cross chunk boundaries.
    const lines = Array.from({ length: 9 }, (_, i) => `{"n":${i},"pad":"${'é'.repeat(i * 40_000)}"}\n`);
    const text = Buffer.from(lines.join(''));
    await writeFile(join(dir, 'plain'), text);
    await writeFile(join(dir, 'packed.gz'), gzipSync(text));
    await writeFile(join(dir, 'gz-without-suffix'), gzipSync(text));
    for (const name of ['plain', 'packed.gz', 'gz-without-suffix']) {
      const items = await collect(join(dir, name));
      expect(items.map((i) => i.kind)).toEqual(lines.map(() => 'line'));
      // Buffer.equals: vitest's deep equality walks megabytes byte by byte.
      const joined = Buffer.concat(items.map((i) => (i.kind === 'line' ? i.bytes : Buffer.alloc(0))));
      expect(joined.equals(text), name).toBe(true);
      expect(items.map((i) => i.lineNo)).toEqual(lines.map((_, k) => k + 1));
    }
  });

  it('reports a partial last line with its size, and an empty file as nothing', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'cut'), '{"a":1}\n{"b":');
    expect(await collect(join(dir, 'cut'))).toEqual([
      { kind: 'line', lineNo: 1, bytes: Buffer.from('{"a":1}\n') },
      { kind: 'partial', lineNo: 2, size: 5 },
    ]);
    await writeFile(join(dir, 'empty'), '');
    expect(await collect(join(dir, 'empty'))).toEqual([]);
  });

  it('throws after the lines before a gzip stream that breaks off', async () => {
    const dir = await tempDir();
    const packed = gzipSync(Buffer.from('{"a":1}\n'.repeat(50_000)));
    await writeFile(join(dir, 'torn.gz'), packed.subarray(0, packed.length >> 1));
    const seen: LineItem[] = [];
    await expect(
      (async () => {
        for await (const item of readLines(join(dir, 'torn.gz'))) seen.push(item);
      })(),
    ).rejects.toThrow(/unexpected end of file/);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((i) => i.kind === 'line')).toBe(true);
  });
});

describe('replay progress', () => {
  it('RateMeter: the rate over the last window of samples', () => {
    const m = new RateMeter(5000);
    expect(m.sample(0, 0)).toBe(0);
    expect(m.sample(100, 1000)).toBe(100);
    expect(m.sample(300, 2000)).toBe(150);
    // Samples more than the window before the newest fall out: at 8 s only the one at 6 s is left.
    m.sample(300, 6000);
    expect(m.sample(1300, 8000)).toBe((1300 - 300) / 2);
  });

  it('formats ETA and the line printed when stderr is not a terminal', () => {
    expect([formatEta(7.4), formatEta(185), formatEta(3720), formatEta(Number.NaN)]).toEqual([
      '7s',
      '3m05s',
      '1h02m',
      '?',
    ]);
    expect(
      progressLine({ inputBytes: 250, inputTotal: 1000, read: 40, selected: 30, settled: 20 }, 12.4, 50),
    ).toBe('replay: 25% of input read, 40 lines, 30 selected, 20 done, 12 events/s, ETA 15s');
  });

  it('draws a bar with events, rate and ETA on a terminal, and prints notes above it', () => {
    let out = '';
    const tty = {
      isTTY: true,
      columns: 120,
      write: (t: string) => {
        out += t;
        return true;
      },
      cursorTo() {},
      clearLine() {},
      moveCursor() {},
      clearScreenDown() {},
      on() {},
      removeListener() {},
    };
    const snap = { inputBytes: 0, inputTotal: 1000, read: 0, selected: 0, settled: 0 };
    const progress = startProgress(tty, () => snap);
    snap.inputBytes = 500;
    snap.settled = 42;
    progress.log('a note');
    progress.stop();
    expect(out).toContain('a note\n');
    expect(out).toMatch(/replay [█░=\- ]*\S* 50% \| 42 events \| \d+ events\/s \| ETA /);
  });

  it('prints a line every interval when stderr is not a terminal', async () => {
    const lines: string[] = [];
    const snap = { inputBytes: 10, inputTotal: 100, read: 3, selected: 2, settled: 1 };
    const progress = startProgress({ write: (t: string) => lines.push(t) }, () => snap, {
      lineIntervalMs: 5,
    });
    const { waitFor } = await import('../helpers/wait.js');
    await waitFor(() => lines.length >= 2, { what: 'two progress lines' });
    progress.stop();
    expect(lines[0]).toMatch(
      /^replay: 10% of input read, 3 lines, 2 selected, 1 done, \d+ events\/s, ETA .+\n$/,
    );
  });
});

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
