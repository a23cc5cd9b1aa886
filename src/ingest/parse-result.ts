import type { EventDraft } from '../events/event.js';

/**
 * What a webhook body parser returns. Parsers never throw: a body that will never
 * be accepted is `ok: false` with a message meant for the sender (HTTP 400 body).
 */
export type ParseResult = { ok: true; drafts: EventDraft[] } | { ok: false; error: string };
