/*
 * Plain regression tests for what the parser fuzzing (the *.fuzz.test.ts files under test/unit/) found, one per bug,
 * so each stays fixed whatever seeds the fuzzers draw.
 */
import { describe, expect, it } from 'vitest';
import { expandEnv } from '../../../src/config/env.js';
import { parseAlertmanagerBody } from '../../../src/ingest/alertmanager.js';
import { parseCorootBody } from '../../../src/ingest/coroot/webhook.js';
import { parseAlertsPage } from '../../../src/ingest/coroot-api/api-alert.js';
import { expectAcceptedDrafts, nestedArray } from '../../helpers/arbitraries.js';
import { errorsOf } from '../../helpers/config.js';
import { loadFixture } from '../../helpers/fixtures.js';

function withStartsAt(startsAt: string): unknown {
  const body = loadFixture('alertmanager/firing-single-alert.json') as {
    alerts: Array<Record<string, unknown>>;
  };
  (body.alerts[0] as Record<string, unknown>).startsAt = startsAt;
  return body;
}

describe('fuzz regressions', () => {
  it('Alertmanager: a day the month does not have is not read as a time (it made a schema-invalid event): the alert is kept as unrecognized', () => {
    for (const bad of [
      '2023-02-29T00:00:00Z',
      '2024-02-30T10:00:00Z',
      '2024-04-31T10:00:00Z',
      '1900-02-29T00:00:00Z',
    ]) {
      const body = withStartsAt(bad);
      const result = parseAlertmanagerBody(body);
      if (!result.ok) throw new Error(result.error);
      expectAcceptedDrafts(result.drafts);
      expect(result.drafts.map((d) => [d.type, d.data.reason])).toEqual([
        ['unrecognized', `"alerts[0].startsAt" must be an RFC 3339 time, got "${bad}"`],
      ]);
      expect(result.drafts[0]?.data.raw).toBe((body as { alerts: unknown[] }).alerts[0]);
    }
    for (const good of ['2024-02-29T00:00:00Z', '2000-02-29T00:00:00Z', '2024-12-31T23:59:59.5+02:00']) {
      const result = parseAlertmanagerBody(withStartsAt(good));
      if (!result.ok) throw new Error(result.error);
      expectAcceptedDrafts(result.drafts);
    }
  });

  it('Coroot: a custom field nested past 100 levels is refused, even as unrecognized (JSON.stringify overflowed on it after the 202)', () => {
    const base = loadFixture('coroot/alert-firing-warning.json') as Record<string, unknown>;
    const kept = parseCorootBody({ ...base, deep: nestedArray(100, 'x') });
    if (!kept.ok) throw new Error(kept.error);
    expectAcceptedDrafts(kept.drafts);
    for (const depth of [101, 5_000, 100_000]) {
      expect(parseCorootBody({ ...base, deep: nestedArray(depth, 'x') })).toEqual({
        ok: false,
        error: 'JSON nested more than 101 levels deep cannot be recorded',
      });
    }
  });

  it('Coroot API: an alert id or project id with a lone surrogate is skipped (encodeURIComponent threw)', () => {
    const page = parseAlertsPage(
      JSON.parse('{"data":{"alerts":[{"id":"\\ud800"},{"id":"a1","project_id":"p\\udc00"},{"id":"ok"}]}}'),
    );
    if (!page.ok) throw new Error(page.error);
    expect(page.alerts.map((a) => a.id)).toEqual(['ok']);
    expect(page.skipped).toEqual([
      'data.alerts[0]: "id" must be well-formed Unicode (no lone surrogate), got "\\ud800"',
      'data.alerts[1]: "project_id" must be well-formed Unicode (no lone surrogate), got "p\\udc00"',
    ]);
  });

  it('config: ${constructor} and other Object.prototype names read as unset variables', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(expandEnv(`\${${name}}`, {})).toEqual({
        ok: false,
        error: `environment variable ${name} is not set (use \${${name}:-default} for a default)`,
      });
    }
    expect(expandEnv('${constructor:-x}', {})).toEqual({ ok: true, value: 'x' });
    expect(expandEnv('${PATH}', { PATH: '/bin' })).toEqual({ ok: true, value: '/bin' });
  });

  it('config: an empty key is reported as not a plain key, not as an unknown key named nothing', () => {
    expect(errorsOf('"": x\n')).toEqual(['/etc/cer/recorder.yaml:1: keys must be plain strings']);
    expect(errorsOf('ingest:\n  ? >\n')).toEqual([
      '/etc/cer/recorder.yaml:2: ingest: keys must be plain strings',
    ]);
  });
});
