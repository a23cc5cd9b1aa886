/**
 * Waiting for a condition that only changes when its owner says so (an output drained, its
 * deliveries settled): `until` resolves true as soon as the condition holds, re-checked at each
 * `changed()`, or false once `ms` have passed without it. No polling, one monotonic timer each.
 */
export class ConditionWaiters {
  private readonly waiters = new Set<() => void>();

  until(done: () => boolean, ms: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve(done());
      }, ms);
      this.waiters.add(check);
    });
  }

  /** The state changed: re-check every waiting condition. */
  changed(): void {
    for (const check of [...this.waiters]) check();
  }
}
