/**
 * Run by test/unit/events/fast-serialization.test.ts as
 * `node --allow-natives-syntax --import tsx test/helpers/event-shapes.ts`: parses every
 * Coroot and Alertmanager fixture (and the bench's 100-alert payload) into events and prints,
 * for every string in each event, a `MARK STRING <path>` marker followed by V8's %DebugPrint
 * of it, and for every object a `MARK OBJECT <path> <fast|dictionary>` marker (markers are
 * %DebugPrint'ed strings themselves, see `mark`). The test reads which
 * strings V8 holds as sliced or cons strings and which objects are in dictionary mode:
 * either sends the event off Node 26's JSON.stringify fast path (src/lib/flat-string.ts).
 *
 * Two control strings, one sliced and one cons, come first, so the test knows its reading of
 * %DebugPrint still sees what it looks for.
 */
import { hash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventDraft } from '../../src/events/event.js';
import { EventFactory } from '../../src/events/factory.js';
import { parseAlertmanagerBody } from '../../src/ingest/alertmanager.js';
import { parseCorootBody } from '../../src/ingest/coroot/webhook.js';
import { Deduper } from '../../src/ingest/dedupe.js';
import type { ParseResult } from '../../src/ingest/parse-result.js';
import { Metrics } from '../../src/metrics/registry.js';
import { alertmanagerPayload } from '../bench/alertmanager.bench.js';

// The natives syntax (%Name) is not TypeScript: these are filled in with `new Function`.
const natives = {
  debugPrint: new Function('v', '%DebugPrint(v)') as (value: unknown) => void,
  hasFastProperties: new Function('o', 'return %HasFastProperties(o)') as (value: object) => boolean,
};

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const factory = new EventFactory('shapes');

/**
 * %DebugPrint writes through the C library's stdout, which a pipe buffers apart from
 * process.stdout: so the markers go through %DebugPrint too, and arrive in order with what
 * they name.
 */
function mark(text: string): void {
  natives.debugPrint(`MARK ${text}`);
}

function printString(path: string, value: string): void {
  mark(`STRING ${path}`);
  natives.debugPrint(value);
}

function walk(value: unknown, path: string): void {
  if (typeof value === 'string') printString(path, value);
  else if (value !== null && typeof value === 'object') {
    mark(`OBJECT ${path} ${natives.hasFastProperties(value) ? 'fast' : 'dictionary'}`);
    for (const key of Object.keys(value)) walk((value as Record<string, unknown>)[key], `${path}.${key}`);
  }
}

const deduper = new Deduper(new Metrics('shapes', { defaultMetrics: false }));
const dedupe = { windowMs: 60_000, maxEntries: 10_000 };

/** The drafts as the ingest pipeline hands them on: through the Deduper, whose Map sees each key. */
function draftsOf(result: ParseResult): EventDraft[] {
  if (!result.ok) return [];
  const batch = deduper.select(result.drafts, dedupe, Date.now());
  deduper.commit(batch, dedupe, Date.now());
  return batch.fresh;
}

printString('control.sliced', hash('sha256', 'control', 'hex').slice(1));
printString('control.cons', `${hash('sha256', 'control', 'hex')}${Math.random()}`);
const mapKey = hash('sha256', 'map key', 'hex');
new Map([[mapKey, 1]]).get(mapKey);
printString('control.mapKey', mapKey);

const sources: Array<[string, (body: unknown) => ParseResult]> = [
  ['coroot', parseCorootBody],
  ['alertmanager', parseAlertmanagerBody],
];
for (const [folder, parse] of sources) {
  for (const file of readdirSync(join(fixtures, folder)).sort()) {
    const result = parse(JSON.parse(readFileSync(join(fixtures, folder, file), 'utf8')));
    for (const [i, draft] of draftsOf(result).entries())
      walk(factory.stamp(draft), `${folder}/${file}[${i}]`);
  }
}
const bench = parseAlertmanagerBody(JSON.parse(alertmanagerPayload(3)));
for (const [i, draft] of draftsOf(bench).entries()) walk(factory.stamp(draft), `bench[${i}]`);
mark('DONE');
