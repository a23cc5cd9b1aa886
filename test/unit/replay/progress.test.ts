import { describe, expect, it } from 'vitest';
import { formatEta, progressLine, RateMeter, startProgress } from '../../../src/replay/progress.js';
import { waitFor } from '../../helpers/wait.js';

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
    await waitFor(() => lines.length >= 2, { what: 'two progress lines' });
    progress.stop();
    expect(lines[0]).toMatch(
      /^replay: 10% of input read, 3 lines, 2 selected, 1 done, \d+ events\/s, ETA .+\n$/,
    );
  });
});
