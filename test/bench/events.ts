import type { RecorderEvent } from '../../src/events/event.js';
import { serializeEvent } from '../../src/events/serialize.js';
import { realisticAlert, testAlertEvent } from '../helpers/events.js';

/** An event and its serialized line, made before the clock starts. */
export interface BenchItem {
  event: RecorderEvent;
  line: Buffer;
}

/** `n` realistic Coroot alert events (about 720 bytes of JSON each), event `i` keyed by `fingerprint(i)`. */
export function alertItems(n: number, fingerprint: (i: number) => string): BenchItem[] {
  return Array.from({ length: n }, (_, i) => {
    const event = testAlertEvent(i, {
      instance: 'bench',
      fingerprint: fingerprint(i),
      alert: realisticAlert(i),
    });
    return { event, line: serializeEvent(event) };
  });
}
