/*
 * docs/troubleshooting.md has a row for every message a user can see: each warn/error log
 * line, each HTTP error answer (and the 400 texts of the webhook parsers), each readiness
 * reason, each config validation message, and the CLI's own errors. The messages are read from
 * the source (string and template literals; `${...}` parts match any placeholder in the doc),
 * so a new message without a row fails this test.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/daemon.js';

const DOC = join(ROOT, 'docs/troubleshooting.md');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Index just past the string/template literal starting at `i`, or -1 when none starts there. */
function literalEnd(text: string, i: number): number {
  const q = text[i];
  if (q !== "'" && q !== '"' && q !== '`') return -1;
  let j = i + 1;
  while (j < text.length) {
    const c = text[j];
    if (c === '\\') j += 2;
    else if (c === q) return j + 1;
    else if (q === '`' && c === '$' && text[j + 1] === '{') j = skipBalanced(text, j + 1, '{', '}');
    else j++;
  }
  return -1;
}

/** From an opening bracket at `i`, the index just past its match (literals respected). */
function skipBalanced(text: string, i: number, open: string, close: string): number {
  let depth = 0;
  let j = i;
  while (j < text.length) {
    const c = text[j] as string;
    const end = literalEnd(text, j);
    if (end !== -1) {
      j = end;
      continue;
    }
    if (c === open || c === '(' || c === '[' || c === '{') depth++;
    else if (c === close || c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) return j + 1;
    }
    j++;
  }
  return text.length;
}

/** The top-level arguments of the call whose `(` is at `i`, as source text. */
function callArgs(text: string, i: number): string[] {
  const end = skipBalanced(text, i, '(', ')');
  const inner = text.slice(i + 1, end - 1);
  const args: string[] = [];
  let start = 0;
  let j = 0;
  while (j < inner.length) {
    const lit = literalEnd(inner, j);
    if (lit !== -1) {
      j = lit;
      continue;
    }
    const c = inner[j];
    if (c === '(' || c === '[' || c === '{') {
      j = skipBalanced(inner, j, c, c === '(' ? ')' : c === '[' ? ']' : '}');
      continue;
    }
    if (c === ',') {
      args.push(inner.slice(start, j).trim());
      start = j + 1;
    }
    j++;
  }
  const last = inner.slice(start).trim();
  if (last) args.push(last);
  return args;
}

/** Every string/template literal inside a piece of source. */
function literalsIn(source: string): string[] {
  const out: string[] = [];
  for (let j = 0; j < source.length; j++) {
    const end = literalEnd(source, j);
    if (end !== -1) {
      out.push(source.slice(j, end));
      j = end - 1;
    }
  }
  return out;
}

/** `source` when it is one literal, or literals joined by `+` (a message split over lines). */
function asLiteral(source: string | undefined): string | null {
  if (source === undefined) return null;
  let rest = source;
  while (rest) {
    const end = literalEnd(rest, 0);
    if (end === -1) return null;
    rest = rest.slice(end).replace(/^\s*\+\s*/, '');
  }
  return source;
}

/** The messages an argument can be: itself when a literal, else each literal in it (`a ? 'x' : 'y'`). */
const messagesOf = (source: string | undefined): string[] => {
  const whole = asLiteral(source);
  return whole ? [whole] : literalsIn(source ?? '');
};

const escapeRe = (c: string): string => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A message as an anchored pattern: `${...}` matches any text, escapes are decoded, a trailing
 * newline is dropped. `literal` may be several literals joined by `+`. Also returns how many
 * fixed characters it has (a message of placeholders only says nothing).
 */
function compile(literal: string): { re: RegExp; fixed: number } {
  let re = '';
  let fixed = 0;
  for (const part of literalsIn(literal)) {
    const body = part.slice(1, -1);
    for (let j = 0; j < body.length; j++) {
      const c = body[j] as string;
      if (part[0] === '`' && c === '$' && body[j + 1] === '{') {
        j = skipBalanced(body, j + 1, '{', '}') - 1;
        re += '.*?';
      } else if (c === '\\') {
        const n = body[j + 1] as string;
        j++;
        if (n !== 'n') {
          re += escapeRe(n);
          fixed++;
        }
      } else {
        re += escapeRe(c);
        fixed++;
      }
    }
  }
  return { re: new RegExp(`^${re.trim()}$`), fixed };
}

const pattern = (literal: string): RegExp => compile(literal).re;

interface Message {
  kind: string;
  where: string;
  literal: string;
}

/** Every user-visible message of the source tree, and the calls whose message is not a literal. */
function collectMessages(): { messages: Message[]; nonLiteral: string[] } {
  const messages: Message[] = [];
  const nonLiteral: string[] = [];
  const files = [...tsFiles(join(ROOT, 'src')), ...tsFiles(join(ROOT, 'cmd'))];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const rel = relative(ROOT, file);
    const lineOf = (i: number): string => `${rel}:${text.slice(0, i).split('\n').length}`;
    const calls = (re: RegExp): Array<{ args: string[]; where: string }> =>
      [...text.matchAll(re)].map((m) => {
        const open = (m.index ?? 0) + m[0].indexOf('(');
        return { args: callArgs(text, open), where: lineOf(m.index ?? 0) };
      });

    // Log lines at warn and error, and those whose level is chosen at run time (`log[level](...)`).
    for (const c of calls(/\b(?:log|logger)(?:\.(?:warn|error)|\[\w+\])\(/g)) {
      const lit = asLiteral(c.args[0]);
      if (lit) messages.push({ kind: 'log', where: c.where, literal: lit });
      else nonLiteral.push(`${c.where}: log message is not a literal: ${c.args[0]}`);
    }
    // Config validation: MapReader/ReadContext .error(..., message) and ConfigIssue(..., message).
    if (
      /^src\/(config|recorder-config)\/|^src\/outputs\/[^/]+\/config\.ts$|^src\/outputs\/delivery\/buffer-config\.ts$/.test(
        rel,
      )
    ) {
      for (const c of calls(/(?<!\b(?:log|logger))\.error\(|\bnew ConfigIssue\(/g)) {
        const lit = asLiteral(c.args.at(-1));
        if (lit) messages.push({ kind: 'config', where: c.where, literal: lit });
      }
    }
    // `{ error: '...' }` results and answers (ingest parsers, env expansion, HTTP bodies).
    for (const m of text.matchAll(/\berror:\s*(?=['`])/g)) {
      const start = (m.index ?? 0) + m[0].length;
      messages.push({
        kind: 'answer',
        where: lineOf(start),
        literal: text.slice(start, literalEnd(text, start)),
      });
    }
    for (const c of calls(/\breject\(\s*'\w+',/g)) {
      const lit = asLiteral(c.args[2]);
      if (lit) messages.push({ kind: 'http', where: c.where, literal: lit });
    }
    for (const c of calls(/\bsendText\(res,/g)) {
      for (const lit of literalsIn(c.args[2] ?? '')) {
        if (lit !== "'OK\\n'") messages.push({ kind: 'http', where: c.where, literal: lit });
      }
    }
    for (const c of calls(/\bnew PayloadError\(/g)) {
      for (const lit of messagesOf(c.args[0]))
        messages.push({ kind: 'payload', where: c.where, literal: lit });
    }
    // Coroot API client failures: the `error` of "coroot api poll failed".
    for (const c of calls(/\bthis\.fail\(\s*'error_\w+',/g)) {
      for (const lit of messagesOf(c.args[1])) messages.push({ kind: 'poll', where: c.where, literal: lit });
    }
    // Readiness reasons, as /-/ready shows them.
    for (const m of text.matchAll(/ready: false, reason: '([^']+)'/g)) {
      messages.push({ kind: 'ready', where: lineOf(m.index ?? 0), literal: `'not ready: ${m[1]}'` });
    }
    // What the CLI prints and the daemon throws at start-up.
    if (rel.startsWith('cmd/') || rel === 'src/daemon.ts') {
      for (const c of calls(/\b(?:fail|new Error|process\.stderr\.write)\(/g)) {
        const lit = asLiteral(c.args[0]);
        if (lit && lit !== "'not listening'") messages.push({ kind: 'cli', where: c.where, literal: lit });
      }
    }
  }
  // A message of placeholders only (`${a}: ${b}`, a prefix added to another message) says nothing.
  return { messages: messages.filter((m) => compile(m.literal).fixed >= 3), nonLiteral };
}

/** Code spans of the doc's table rows, `\|` unescaped. */
function documentedSpans(markdown: string): string[] {
  return markdown
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .flatMap((l) => [...l.replaceAll('\\|', '|').matchAll(/`([^`]+)`/g)].map((m) => (m[1] as string).trim()));
}

function undocumented(messages: Message[], markdown: string): Message[] {
  const spans = documentedSpans(markdown);
  return messages.filter((m) => {
    const re = pattern(m.literal);
    return !spans.some((s) => re.test(s));
  });
}

describe('docs/troubleshooting.md', () => {
  const { messages, nonLiteral } = collectMessages();
  const markdown = readFileSync(DOC, 'utf8');

  it('finds the messages in the source', () => {
    if (process.env.OPS_LIST_MESSAGES) {
      for (const m of messages) console.log(`${m.kind}\t${m.where}\t${m.literal}`);
    }
    const kinds = new Set(messages.map((m) => m.kind));
    for (const k of ['log', 'config', 'answer', 'http', 'payload', 'poll', 'ready', 'cli'])
      expect(kinds).toContain(k);
    expect(messages.length).toBeGreaterThan(80);
    expect(nonLiteral).toEqual([]);
  });

  it('has a row for every message', () => {
    const missing = undocumented(messages, markdown).map((m) => `${m.where}: ${m.literal}`);
    expect(missing).toEqual([]);
  });

  it('every row has a cause and a fix', () => {
    const rows = markdown.split('\n').filter((l) => /^\| `/.test(l));
    expect(rows.length).toBeGreaterThan(50);
    for (const row of rows) {
      const cells = row.replaceAll('\\|', '').split('|').slice(1, -1);
      expect(cells.length, row).toBeGreaterThanOrEqual(3);
      for (const cell of cells) expect(cell.trim(), row).not.toBe('');
    }
  });

  it('catches a message without a row', () => {
    const log = messages.find((m) => m.literal === "'webhook queue full; dropping events'") as Message;
    expect(log).toBeDefined();
    const row = markdown
      .split('\n')
      .find((l) => l.includes('`webhook queue full; dropping events`')) as string;
    expect(undocumented([log], markdown.replace(row, ''))).toEqual([log]);
    // A template's placeholders match any text, but its fixed parts must be there.
    const template: Message = {
      kind: 'http',
      where: 'x',
      literal: '`request body exceeds max_body_bytes (${n} bytes)`',
    };
    expect(undocumented([template], '| `request body exceeds max_body_bytes (<n> bytes)` | a | b |')).toEqual(
      [],
    );
    expect(undocumented([template], '| `request body exceeds max_body_bytes` | a | b |')).toEqual([template]);
  });
});
