/**
 * Waiting for a condition that only changes when its owner says so (an output drained, its
 * deliveries settled, a buffer freed room): `until` resolves true as soon as the condition
 * holds, re-checked at each `changed()`, or false once `ms` have passed without it (never, for
 * `ms = Infinity`). No polling, at most one monotonic timer each.
 */
export class ConditionWaiters {
  private readonly waiters = new Set<() => void>();

  until(done: () => boolean, ms: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const check = (): void => {
        if (!done()) return;
        if (timer !== undefined) clearTimeout(timer);
        this.waiters.delete(check);
        resolve(true);
      };
      // setTimeout would turn Infinity into 1 ms.
      const timer = Number.isFinite(ms)
        ? setTimeout(() => {
            this.waiters.delete(check);
            resolve(done());
          }, ms)
        : undefined;
      this.waiters.add(check);
    });
  }

  /** The state changed: re-check every waiting condition. Cheap when nobody waits (hot paths call it). */
  changed(): void {
    if (this.waiters.size === 0) return;
    for (const check of [...this.waiters]) check();
  }
}
