import type { ServerResponse } from 'node:http';

/** A complete HTTP answer: status, headers as flat name/value pairs, body text. */
export interface Reply {
  readonly status: number;
  readonly headers: string[];
  readonly text: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

export function reply(
  status: number,
  contentType: string,
  text: string,
  extra: readonly string[] = [],
): Reply {
  return {
    status,
    headers: ['content-type', contentType, 'content-length', String(Buffer.byteLength(text)), ...extra],
    text,
  };
}

export function jsonReply(status: number, body: object, extra?: readonly string[]): Reply {
  return reply(status, JSON_TYPE, JSON.stringify(body), extra);
}

export function send(res: ServerResponse, r: Reply): void {
  res.writeHead(r.status, r.headers);
  res.end(r.text);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  send(res, reply(status, TEXT_TYPE, text));
}

export function methodNotAllowed(res: ServerResponse, allow: string): void {
  send(res, jsonReply(405, { error: `method not allowed; use ${allow}` }, ['allow', allow]));
}

/** The answer to almost every ingest request, prepared once: `{"accepted":1}`. */
export const ACCEPTED_ONE = jsonReply(202, { accepted: 1 });
export const SHUTTING_DOWN = jsonReply(503, { error: 'shutting down' }, [
  'retry-after',
  '1',
  'connection',
  'close',
]);
export const RETRY_AFTER = ['retry-after', '1'];
