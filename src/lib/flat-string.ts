/*
 * Strings that go into an event must be ones Node 26's JSON.stringify fast path takes: a
 * single other string anywhere in an event sends that whole event's serialization down the
 * generic path, measured about 3 times slower per event (docs/operations.md "Performance on
 * Node 26"), and serializing does not convert them for the next time. Not taken:
 * - a substring of 13 or more characters, which V8 keeps as a view into its parent;
 * - a concatenation (template literal, `+`), which V8 keeps as a pair until flattened;
 * - a string used as a Map or Set key: Node 26 moves its text into the string table and
 *   leaves the string itself forwarding there.
 */

/** Below this length V8 copies a substring instead of pointing into its parent. */
const SLICED_MIN_LENGTH = 13;

/**
 * A new sequential copy of `text`. Array join writes its result into one new buffer on Node 20
 * and 26 alike; String#toLowerCase copies only on 26, `${text}` returns `text` itself.
 */
export function copyOf(text: string): string {
  return text.length < 2 ? text : [text[0], text.slice(1)].join('');
}

/** `text`, or a copy when it may be a view into a longer string (a substring, a regex capture). */
export function unsliced(text: string): string {
  return text.length < SLICED_MIN_LENGTH ? text : copyOf(text);
}
