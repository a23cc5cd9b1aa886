/**
 * `Output.whenRoom()` for an output whose buffer does not announce when it frees a slot:
 * looks again every `intervalMs`. Only a `when_full: block` output is ever asked, and only
 * while the write loop is held back by it, so the timer runs only then.
 */
export function pollForRoom(hasRoom: () => boolean, intervalMs = 5): Promise<void> {
  if (hasRoom()) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!hasRoom()) return;
      clearInterval(timer);
      resolve();
    }, intervalMs);
  });
}
