/**
 * Waiting for a condition that only changes when its owner says so (an output drained, its
 * deliveries settled, a buffer freed room): `until` resolves true as soon as the condition
 * holds, re-checked at each `changed()`, or false once `ms` have passed without it (never, for
 * `ms = Infinity`) or `signal` aborted first. No polling, at most one monotonic timer each.
 */
export class ConditionWaiters {
  private readonly waiters = new Set<() => void>();

  until(done: () => boolean, ms: number, signal?: AbortSignal): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    if (ms <= 0 || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const end = (result: boolean): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(check);
        resolve(result);
      };
      const check = (): void => {
        if (done()) end(true);
      };
      const onAbort = (): void => end(done());
      // setTimeout would turn Infinity into 1 ms.
      const timer = Number.isFinite(ms) ? setTimeout(() => end(done()), ms) : undefined;
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(check);
    });
  }

  /** The state changed: re-check every waiting condition. Cheap when nobody waits (hot paths call it). */
  changed(): void {
    if (this.waiters.size === 0) return;
    for (const check of [...this.waiters]) check();
  }

  /**
   * `Output.whenPendingAtMost()` for an owner that announces every change of `pending()` here:
   * waits without a time limit until `pending() <= atMost`, the owner is `over()` (closed:
   * nothing changes any more) or `signal` aborts; resolves to whether `pending() <= atMost`.
   */
  untilAtMost(
    pending: () => number,
    atMost: number,
    over: () => boolean,
    signal?: AbortSignal,
  ): Promise<boolean> {
    return this.until(() => pending() <= atMost || over(), Number.POSITIVE_INFINITY, signal).then(
      () => pending() <= atMost,
    );
  }
}
