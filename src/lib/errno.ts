/**
 * The `code` of a Node.js system error (`ENOENT`, `EACCES`, `ECONNREFUSED`…), or undefined when
 * `err` carries none. Accepts anything a `catch` can hold.
 */
export function errnoCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}
