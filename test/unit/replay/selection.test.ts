import { describe, expect, it } from 'vitest';
import { parseSelection, parseTimeBound, selects } from '../../../src/replay/selection.js';
import { auditEvent } from '../../helpers/replay.js';

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
