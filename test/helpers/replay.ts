import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { EventSource, EventType, RecorderEvent } from '../../src/events/event.js';
import { serializeEvent } from '../../src/events/serialize.js';
import { testAlertEvent } from './events.js';

/** First @timestamp of the audit set; event i is i minutes later. */
export const AUDIT_START_MS = Date.parse('2026-11-01T00:00:00.000Z');

const TYPES: readonly EventType[] = ['alert_firing', 'alert_resolved', 'deployment'];

/**
 * Event `i` of a test audit trail: type cycles firing / resolved / deployment, every fourth
 * comes from Alertmanager, one minute apart, a distinct fingerprint per three events.
 */
export function auditEvent(i: number): RecorderEvent {
  const base = testAlertEvent(i, {
    instance: 'replay-test',
    fingerprint: (0xa000000000000000n + BigInt(Math.floor(i / 3))).toString(16),
  });
  const source: EventSource = i % 4 === 3 ? 'alertmanager' : 'coroot';
  return {
    ...base,
    '@timestamp': new Date(AUDIT_START_MS + i * 60_000).toISOString(),
    type: TYPES[i % TYPES.length] as EventType,
    source,
  };
}

export interface AuditSet {
  dir: string;
  /** Oldest first, as `replay` takes them: events.jsonl.2.gz, events.jsonl.1, events.jsonl. */
  files: string[];
  events: RecorderEvent[];
  /** The serialized line of each event, as the file output wrote it. */
  lines: Buffer[];
}

/**
 * A set as logrotate leaves it (`compress`, `delaycompress`): `events.jsonl.2.gz` holds the
 * oldest `perFile` events, `events.jsonl.1` the next, `events.jsonl` the newest. `extra`
 * appends raw bytes to a file after its events (a malformed line, a partial last line).
 */
export async function writeAuditSet(
  dir: string,
  perFile: number,
  extra: { gz?: string; rotated?: string; current?: string } = {},
): Promise<AuditSet> {
  const events = Array.from({ length: perFile * 3 }, (_, i) => auditEvent(i));
  const lines = events.map((e) => serializeEvent(e));
  const part = (k: number, tail = ''): Buffer =>
    Buffer.concat([...lines.slice(k * perFile, (k + 1) * perFile), Buffer.from(tail)]);
  const files = [join(dir, 'events.jsonl.2.gz'), join(dir, 'events.jsonl.1'), join(dir, 'events.jsonl')];
  await writeFile(files[0] as string, gzipSync(part(0, extra.gz)));
  await writeFile(files[1] as string, part(1, extra.rotated));
  await writeFile(files[2] as string, part(2, extra.current));
  return { dir, files, events, lines };
}

export { type CliRun, runCli } from './daemon.js';
