import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALERT_STATES,
  type AlertState,
  type ApiAlert,
  alertState,
  parseAlertsPage,
} from '../../../../src/ingest/coroot-api/api-alert.js';
import { diffAlerts } from '../../../../src/ingest/coroot-api/diff.js';
import { loadFixture } from '../../../helpers/fixtures.js';

/** An API alert in `state`, shaped as Coroot sets the fields for it (docs/coroot.md). */
function alert(id: string, state: AlertState, updatedAt = 2_000): ApiAlert {
  return {
    id,
    fingerprint: null,
    ruleId: 'rule',
    ruleName: 'Rule',
    projectId: 'x0xwl4jz',
    applicationId: 'x0xwl4jz:shop:Deployment:catalog',
    cluster: null,
    severity: 'warning',
    summary: 's',
    details: [],
    openedAt: 1_000,
    resolvedAt: state === 'resolved' ? 2_000 : null,
    manuallyResolvedAt: state === 'manual' ? 2_000 : null,
    updatedAt,
    suppressed: state === 'suppressed',
    resolvedBy: state === 'manual' || state === 'suppressed' ? 'jane' : null,
    report: null,
    durationMs: 1_000,
    notifications: [],
  };
}

const known = (entries: Array<[string, AlertState]>): Map<string, AlertState> => new Map(entries);
const stepsOf = (d: ReturnType<typeof diffAlerts>) => d.transitions.map((t) => [t.alert.id, t.from, t.steps]);

describe('alertState', () => {
  it('reads the three ways Coroot closes an alert, suppression first', () => {
    expect(ALERT_STATES.map((s) => alertState(alert('a', s)))).toEqual([
      'open',
      'resolved',
      'manual',
      'suppressed',
    ]);
    // Suppress clears both timestamps, but a stale one must still not win over the flag.
    expect(alertState({ ...alert('a', 'suppressed'), resolvedAt: 5 })).toBe('suppressed');
  });
});

describe('diffAlerts', () => {
  it('announces a new open alert', () => {
    expect(stepsOf(diffAlerts(known([]), [alert('a', 'open')], false))).toEqual([['a', null, ['open']]]);
  });

  it('on the very first poll, announces open alerts and silently adopts closed ones', () => {
    const d = diffAlerts(
      known([]),
      [alert('a', 'open'), alert('b', 'resolved'), alert('c', 'suppressed')],
      true,
    );
    expect(stepsOf(d)).toEqual([['a', null, ['open']]]);
    expect(d.adopted).toEqual([
      { id: 'b', state: 'resolved' },
      { id: 'c', state: 'suppressed' },
    ]);
  });

  it('fills the gap for an alert that opened and closed between two polls: firing, then its resolve', () => {
    const d = diffAlerts(known([['x', 'open']]), [alert('x', 'open'), alert('b', 'manual')], false);
    expect(stepsOf(d)).toEqual([['b', null, ['open', 'manual']]]);
    expect(d.adopted).toEqual([]);
  });

  it('emits nothing when nothing changed', () => {
    const d = diffAlerts(
      known(ALERT_STATES.map((s) => [s, s])),
      ALERT_STATES.map((s) => alert(s, s)),
      false,
    );
    expect(d).toEqual({
      transitions: [],
      adopted: [],
      missing: [],
      suppressed: [{ id: 'suppressed', updatedAt: 2_000 }],
    });
  });

  it.each([
    ['open', 'resolved'],
    ['open', 'manual'],
    ['open', 'suppressed'],
    ['suppressed', 'open'], // reopened
    ['manual', 'open'], // reopened
    ['resolved', 'open'],
    ['resolved', 'suppressed'],
  ] as const)('%s → %s is one step', (from, to) => {
    // Suppressed when updated_at was 1000; a reopen moved it.
    const d = diffAlerts(known([['a', from]]), [alert('a', to)], false, new Map([['a', 1_000]]));
    expect(stepsOf(d)).toEqual([['a', from, [to]]]);
  });

  it('walks open → suppressed → reopened → manually resolved as four events', () => {
    let state = new Map<string, AlertState>();
    const suppressedAt = new Map<string, number>();
    const events: AlertState[] = [];
    for (const [i, s] of (['open', 'suppressed', 'open', 'manual'] as const).entries()) {
      // Coroot moves updated_at on each of these user actions.
      const d = diffAlerts(state, [alert('a', s, 1_000 * (i + 1))], i === 0, suppressedAt);
      for (const m of d.suppressed) suppressedAt.set(m.id, m.updatedAt);
      for (const t of d.transitions) events.push(...t.steps);
      state = new Map([
        ...state,
        ...d.transitions.map((t) => [t.alert.id, t.steps.at(-1) as AlertState] as const),
      ]);
    }
    expect(events).toEqual(['open', 'suppressed', 'open', 'manual']);
  });

  it('reports known alerts missing from the listing, and takes the first of duplicated ids', () => {
    const d = diffAlerts(
      known([
        ['gone', 'resolved'],
        ['a', 'open'],
      ]),
      [alert('a', 'resolved'), alert('a', 'open')],
      false,
    );
    expect(d.missing).toEqual(['gone']);
    expect(stepsOf(d)).toEqual([['a', 'open', ['resolved']]]);
  });

  it('property: applying the steps always lands on what Coroot shows, and a second diff is empty', () => {
    const state = fc.constantFrom(...ALERT_STATES);
    fc.assert(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[a-z0-9]{1,4}$/), fc.option(state, { nil: undefined })),
        fc.dictionary(fc.stringMatching(/^[a-z0-9]{1,4}$/), state),
        fc.boolean(),
        (before, now, baseline) => {
          const knownStates = new Map(
            Object.entries(before).filter((e): e is [string, AlertState] => e[1] !== undefined),
          );
          const current = Object.entries(now).map(([id, s]) => alert(id, s));
          // Every recorded suppression is older than what Coroot shows now: an open alert is a reopen.
          const marks = new Map([...knownStates.keys()].map((id) => [id, 1_000] as const));
          const d = diffAlerts(knownStates, current, baseline, marks);
          const next = new Map(knownStates);
          for (const { id, state: s } of d.adopted) next.set(id, s);
          for (const t of d.transitions) {
            // Every step is a real change, and no event repeats the state before it.
            let prev = t.from;
            for (const step of t.steps) {
              expect(step).not.toBe(prev);
              prev = step;
            }
            next.set(t.alert.id, t.steps.at(-1) as AlertState);
          }
          for (const a of current) expect(next.get(a.id)).toBe(alertState(a));
          const again = diffAlerts(next, current, false, marks);
          expect(again.transitions).toEqual([]);
          expect(again.adopted).toEqual([]);
        },
      ),
    );
  });

  it('does not announce an alert Coroot closed at birth (resolved_by AI: suppressed by AI; init): adopted silently', () => {
    const ai = { ...alert('ai', 'suppressed'), resolvedBy: 'AI' };
    const init = { ...alert('init', 'manual'), resolvedBy: 'init' };
    const user = alert('user', 'manual');
    const d = diffAlerts(known([]), [ai, init, user], false);
    expect(d.adopted).toEqual([
      { id: 'ai', state: 'suppressed' },
      { id: 'init', state: 'manual' },
    ]);
    // A user's close of an alert we never saw open still fills the gap.
    expect(stepsOf(d)).toEqual([['user', null, ['open', 'manual']]]);
  });

  it('an un-suppressed alert (updated_at unchanged, resolved_at unset) is not a reopen; its resolve is recorded', () => {
    const marks = new Map([['a', 2_000]]);
    const lifted = diffAlerts(known([['a', 'suppressed']]), [alert('a', 'open', 2_000)], false, marks);
    expect(lifted.transitions).toEqual([]);
    expect(lifted.adopted).toEqual([]);
    // The next evaluation resolves it: Coroot sends its OK webhook then, and so do we.
    const resolved = diffAlerts(known([['a', 'suppressed']]), [alert('a', 'resolved', 2_000)], false, marks);
    expect(stepsOf(resolved)).toEqual([['a', 'suppressed', ['resolved']]]);
  });

  it('without a remembered updated_at (a state file from before) an open-looking suppressed alert is not a reopen', () => {
    expect(diffAlerts(known([['a', 'suppressed']]), [alert('a', 'open')], false).transitions).toEqual([]);
  });

  it('a user reopen of a suppressed alert (updated_at moved) is a reopen', () => {
    const d = diffAlerts(
      known([['a', 'suppressed']]),
      [alert('a', 'open', 3_000)],
      false,
      new Map([['a', 2_000]]),
    );
    expect(stepsOf(d)).toEqual([['a', 'suppressed', ['open']]]);
  });

  it('alerts-system-closed.json: AI-suppressed and init-closed alerts stay silent; the un-suppressed one is no reopen', () => {
    const page = parseAlertsPage(loadFixture('coroot-api/alerts-system-closed.json'));
    if (!page.ok) throw new Error(page.error);
    const [ai, init, lifted] = page.alerts as [ApiAlert, ApiAlert, ApiAlert];
    expect([alertState(ai), alertState(init), alertState(lifted)]).toEqual(['suppressed', 'manual', 'open']);
    const d = diffAlerts(
      known([[lifted.id, 'suppressed']]),
      page.alerts,
      false,
      new Map([[lifted.id, lifted.updatedAt as number]]),
    );
    expect(d.transitions).toEqual([]);
    expect(d.adopted.map((a) => a.id)).toEqual([ai.id, init.id]);
  });
});
