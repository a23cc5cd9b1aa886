import { describe, expect, it } from 'vitest';
import { SEVERITY } from '../../../src/events/event.js';
import { parseEventLine } from '../../../src/replay/envelope.js';
import { auditEvent } from '../../helpers/replay.js';

describe('replay envelope', () => {
  it('accepts an event line and rejects what is not one, saying why', () => {
    const event = auditEvent(1);
    const ok = parseEventLine(Buffer.from(JSON.stringify(event)));
    expect(ok).toEqual({ ok: true, event, timestampMs: Date.parse(event['@timestamp']) });
    const why = (text: string): string => {
      const r = parseEventLine(Buffer.from(text));
      return r.ok ? '' : r.reason;
    };
    expect(why('nope')).toMatch(/^not JSON: /);
    expect(why('[1]')).toBe('not a JSON object');
    expect(why(JSON.stringify({ ...event, id: 7 }))).toBe('no "id" string');
    expect(why(JSON.stringify({ ...event, '@timestamp': 'later' }))).toBe('no valid "@timestamp"');
    expect(why(JSON.stringify({ ...event, data: null }))).toBe('no "data" object');
  });

  it('restores the severity routing reads, which the line does not carry', () => {
    const severityAfterParse = (event: object): unknown => {
      const parsed = parseEventLine(Buffer.from(JSON.stringify(event)));
      return parsed.ok ? parsed.event[SEVERITY] : parsed.reason;
    };
    const event = auditEvent(0);
    expect(severityAfterParse(event)).toBe('warning');
    expect(severityAfterParse({ ...event, type: 'deployment', data: { deployment: {} } })).toBe('info');
    expect(severityAfterParse({ ...event, type: 'recorder_started', data: { recorder: {} } })).toBe('info');
  });
});
