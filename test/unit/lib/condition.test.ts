import { describe, expect, it } from 'vitest';
import { ConditionWaiters } from '../../../src/lib/condition.js';

describe('ConditionWaiters', () => {
  it('resolves true at once when the condition already holds, false at once with no time left', async () => {
    const waiters = new ConditionWaiters();
    expect(await waiters.until(() => true, 0)).toBe(true);
    expect(await waiters.until(() => false, 0)).toBe(false);
  });

  it('resolves every waiter whose condition holds when told of a change', async () => {
    const waiters = new ConditionWaiters();
    let n = 0;
    const first = waiters.until(() => n >= 1, 60_000);
    const second = waiters.until(() => n >= 2, 60_000);
    n = 1;
    waiters.changed();
    expect(await first).toBe(true);
    n = 2;
    waiters.changed();
    expect(await second).toBe(true);
  });

  it('waits without a time limit for Infinity (no 1 ms timer)', async () => {
    const waiters = new ConditionWaiters();
    let ready = false;
    let settled = false;
    const waiting = waiters
      .until(() => ready, Number.POSITIVE_INFINITY)
      .then((v) => {
        settled = true;
        return v;
      });
    await new Promise((r) => setTimeout(r, 20));
    waiters.changed();
    expect(settled).toBe(false);
    ready = true;
    waiters.changed();
    expect(await waiting).toBe(true);
  });

  it('resolves false when the time runs out first', async () => {
    const waiters = new ConditionWaiters();
    expect(await waiters.until(() => false, 5)).toBe(false);
  });
});

describe('ConditionWaiters with an AbortSignal', () => {
  it('resolves false when the signal aborts first, and forgets the waiter', async () => {
    const waiters = new ConditionWaiters();
    const ctrl = new AbortController();
    let ready = false;
    const waiting = waiters.until(() => ready, Number.POSITIVE_INFINITY, ctrl.signal);
    ctrl.abort();
    expect(await waiting).toBe(false);
    // A later change finds no waiter left to call.
    ready = true;
    waiters.changed();
    expect((waiters as unknown as { waiters: Set<unknown> }).waiters.size).toBe(0);
  });

  it('resolves false at once for a signal already aborted, true when the condition already holds', async () => {
    const waiters = new ConditionWaiters();
    expect(await waiters.until(() => false, Number.POSITIVE_INFINITY, AbortSignal.abort())).toBe(false);
    expect(await waiters.until(() => true, Number.POSITIVE_INFINITY, AbortSignal.abort())).toBe(true);
  });

  it('resolves true on a change before the abort, and the abort later does nothing', async () => {
    const waiters = new ConditionWaiters();
    const ctrl = new AbortController();
    let ready = false;
    const waiting = waiters.until(() => ready, Number.POSITIVE_INFINITY, ctrl.signal);
    ready = true;
    waiters.changed();
    ctrl.abort();
    expect(await waiting).toBe(true);
  });
});
