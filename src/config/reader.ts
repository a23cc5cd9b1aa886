import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  isMap,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  type Pair,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { errnoCode } from '../lib/errno.js';
import { expandEnv } from './env.js';
import { parseByteSize, parseDuration } from './units.js';

/** One problem in a config file; `toString()` gives `file:line: key.path: message`. */
export class ConfigIssue {
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly path: string,
    readonly message: string,
  ) {}

  toString(): string {
    const where = this.line === null ? this.file : `${this.file}:${this.line}`;
    return this.path ? `${where}: ${this.path}: ${this.message}` : `${where}: ${this.message}`;
  }
}

/** Shared state of one parse: where errors go, the environment, how to read `*_file` secrets. */
export class ReadContext {
  readonly issues: ConfigIssue[] = [];
  /** Files read through `*_file` keys: the reload watcher watches them too. */
  readonly referencedFiles = new Set<string>();

  constructor(
    readonly file: string,
    readonly baseDir: string,
    private readonly lineCounter: LineCounter,
    readonly env: NodeJS.ProcessEnv,
    readonly readTextFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
  ) {}

  lineOf(node: Node | null | undefined): number | null {
    const offset = node?.range?.[0];
    return offset === undefined ? null : this.lineCounter.linePos(offset).line;
  }

  error(node: Node | null | undefined, path: string, message: string): void {
    this.issues.push(new ConfigIssue(this.file, this.lineOf(node), path, message));
  }

  /** Relative paths resolve against the config file's folder (docs/configuration.md "Rules"). */
  resolvePath(p: string): string {
    return isAbsolute(p) ? p : resolve(this.baseDir, p);
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/**
 * Reads one YAML mapping with a fixed set of allowed keys. Every accessor records a
 * problem instead of throwing and returns a usable fallback, so one pass reports every
 * error in the file.
 */
export class MapReader {
  private readonly pairs = new Map<string, Pair<Node, Node | null>>();

  constructor(
    readonly ctx: ReadContext,
    readonly path: string,
    readonly node: YAMLMap<Node, Node | null>,
    allowedKeys: readonly string[],
  ) {
    const allowed = new Set(allowedKeys);
    for (const pair of node.items) {
      const keyNode = pair.key;
      const key = isScalar(keyNode) ? String(keyNode.value) : null;
      // An empty key (`"": x`, `? >`) names nothing: reported as such, not as an unknown key ''.
      if (key === null || key === '') {
        ctx.error(keyNode, path, 'keys must be plain strings');
        continue;
      }
      if (!allowed.has(key)) {
        const hint = closest(key, allowedKeys);
        ctx.error(keyNode, join(path, key), `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}`);
        continue;
      }
      if (this.pairs.has(key)) ctx.error(keyNode, join(path, key), 'duplicate key');
      this.pairs.set(key, pair);
    }
  }

  has(key: string): boolean {
    const value = this.pairs.get(key)?.value;
    return value !== undefined && value !== null && !(isScalar(value) && value.value === null);
  }

  keyPath(key: string): string {
    return join(this.path, key);
  }

  /** The node of a key (for errors about it), or the mapping itself when absent. */
  nodeOf(key: string): Node {
    return this.pairs.get(key)?.value ?? this.pairs.get(key)?.key ?? this.node;
  }

  error(key: string, message: string): void {
    this.ctx.error(this.nodeOf(key), this.keyPath(key), message);
  }

  /** The scalar value after `${VAR}` expansion; `undefined` when absent or not a scalar (reported). */
  private scalar(key: string, expected: string): Scalar | undefined {
    if (!this.has(key)) return undefined;
    const node = this.pairs.get(key)?.value as Node;
    if (!isScalar(node)) {
      this.error(key, `must be ${expected}, got ${isSeq(node) ? 'a list' : 'a mapping'}`);
      return undefined;
    }
    if (typeof node.value === 'string' && node.value.includes('$')) {
      const r = expandEnv(node.value, this.ctx.env);
      if (!r.ok) {
        this.error(key, r.error);
        return undefined;
      }
      return { value: r.value, expanded: r.value !== node.value, raw: node.value };
    }
    return { value: node.value, expanded: false, raw: node.value };
  }

  string(key: string, fallback: string, opts: { required?: boolean; nonEmpty?: boolean } = {}): string {
    const s = this.scalar(key, 'a string');
    if (s === undefined) {
      if (opts.required && !this.has(key)) this.error(key, 'is required');
      return fallback;
    }
    // YAML turns `on`, `1.0` and dates into other types; a string key takes their text.
    const text = typeof s.value === 'string' ? s.value : String(s.value);
    if (typeof s.value === 'object' && s.value !== null) {
      this.error(key, `must be a string, got ${shown(s)}`);
      return fallback;
    }
    if (opts.nonEmpty && text === '') {
      this.error(key, 'must not be empty');
      return fallback;
    }
    return text;
  }

  optionalString(key: string): string | null {
    return this.has(key) ? this.string(key, '') : null;
  }

  int(key: string, fallback: number, opts: { min?: number; max?: number } = {}): number {
    const s = this.scalar(key, 'an integer');
    if (s === undefined) return fallback;
    const n =
      typeof s.value === 'number'
        ? s.value
        : s.expanded && typeof s.value === 'string' && /^-?\d+$/.test(s.value)
          ? Number(s.value)
          : Number.NaN;
    const min = opts.min ?? Number.MIN_SAFE_INTEGER;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = opts.max !== undefined ? `between ${min} and ${max}` : `>= ${min}`;
      this.error(key, `must be an integer ${range}, got ${shown(s)}`);
      return fallback;
    }
    return n;
  }

  bool(key: string, fallback: boolean): boolean {
    const s = this.scalar(key, 'true or false');
    if (s === undefined) return fallback;
    if (typeof s.value === 'boolean') return s.value;
    if (s.expanded && (s.value === 'true' || s.value === 'false')) return s.value === 'true';
    this.error(key, `must be true or false, got ${shown(s)}`);
    return fallback;
  }

  /** Milliseconds. */
  duration(key: string, fallback: number, opts: { min?: number } = {}): number {
    const s = this.scalar(key, 'a duration');
    if (s === undefined) return fallback;
    const ms = typeof s.value === 'string' ? parseDuration(s.value) : s.value === 0 ? 0 : null;
    if (ms === null) {
      this.error(key, `must be a duration like 500ms, 10s, 1m or 1h30m, got ${shown(s)}`);
      return fallback;
    }
    if (opts.min !== undefined && ms < opts.min) {
      this.error(key, `must be at least ${opts.min}ms, got ${shown(s)}`);
      return fallback;
    }
    return ms;
  }

  /** Bytes. */
  byteSize(key: string, fallback: number, opts: { min?: number } = {}): number {
    const s = this.scalar(key, 'a size');
    if (s === undefined) return fallback;
    const bytes =
      typeof s.value === 'number' && Number.isSafeInteger(s.value)
        ? s.value
        : typeof s.value === 'string'
          ? parseByteSize(s.value)
          : null;
    if (bytes === null || bytes < (opts.min ?? 0)) {
      this.error(
        key,
        `must be a size like 1MiB, 512KiB or a number of bytes${opts.min ? ` (at least ${opts.min})` : ''}, got ${shown(s)}`,
      );
      return fallback;
    }
    return bytes;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const s = this.scalar(key, `one of ${allowed.join(', ')}`);
    if (s === undefined) return fallback;
    if (typeof s.value === 'string' && (allowed as readonly string[]).includes(s.value)) return s.value as T;
    this.error(key, `must be one of ${allowed.join(', ')}, got ${shown(s)}`);
    return fallback;
  }

  /** A list of strings, each optionally restricted to `allowed`; `null` when absent. */
  stringList<T extends string = string>(
    key: string,
    opts: { allowed?: readonly T[]; nonEmpty?: boolean } = {},
  ): T[] | null {
    const items = this.scalarItems(key);
    if (items === null) return null;
    const out: T[] = [];
    for (const { node, path, value } of items.values) {
      if (typeof value !== 'string' || value === '') {
        this.ctx.error(node, path, `must be a non-empty string, got ${describe(value)}`);
      } else if (opts.allowed && !(opts.allowed as readonly string[]).includes(value)) {
        this.ctx.error(node, path, `must be one of ${opts.allowed.join(', ')}, got ${describe(value)}`);
      } else {
        out.push(value as T);
      }
    }
    if (opts.nonEmpty && items.length === 0) this.error(key, 'must not be empty');
    return out;
  }

  /**
   * The items of a list as scalar values after `${VAR}` expansion (`undefined` for an item
   * that is not a scalar), each with its node and path for errors. Items whose expansion
   * fails are reported and left out; `length` counts every item. `null` when absent or not
   * a list (reported).
   */
  scalarItems(
    key: string,
  ): { length: number; values: Array<{ node: Node; path: string; value: unknown }> } | null {
    const list = this.list(key);
    if (list === null) return null;
    const values: Array<{ node: Node; path: string; value: unknown }> = [];
    list.forEach((node, i) => {
      const path = `${this.keyPath(key)}[${i}]`;
      let value: unknown = isScalar(node) ? node.value : undefined;
      if (typeof value === 'string' && value.includes('$')) {
        const r = expandEnv(value, this.ctx.env);
        if (!r.ok) {
          this.ctx.error(node, path, r.error);
          return;
        }
        value = r.value;
      }
      values.push({ node, path, value });
    });
    return { length: list.length, values };
  }

  /** A mapping of string to string (e.g. HTTP headers); `{}` when absent. */
  stringMap(key: string): Record<string, string> {
    const out: Record<string, string> = {};
    if (!this.has(key)) return out;
    const node = this.pairs.get(key)?.value as Node;
    if (!isMap(node)) {
      this.error(
        key,
        `must be a mapping, got ${describe(isSeq(node) ? [] : (node as { value?: unknown }).value)}`,
      );
      return out;
    }
    const names = (node as YAMLMap<Node, Node | null>).items.map((p) =>
      isScalar(p.key) ? String(p.key.value) : '',
    );
    const m = new MapReader(this.ctx, this.keyPath(key), node as YAMLMap<Node, Node | null>, names);
    for (const name of names) if (name) out[name] = m.string(name, '');
    return out;
  }

  /** A nested mapping; `null` when absent, or when not a mapping (reported). */
  map(key: string, allowedKeys: readonly string[]): MapReader | null {
    if (!this.has(key)) return null;
    const node = this.pairs.get(key)?.value as Node;
    if (!isMap(node)) {
      this.error(key, 'must be a mapping');
      return null;
    }
    return new MapReader(this.ctx, this.keyPath(key), node as YAMLMap<Node, Node | null>, allowedKeys);
  }

  /** The items of a list; `null` when absent, or when not a list (reported). */
  list(key: string): Node[] | null {
    if (!this.has(key)) return null;
    const node = this.pairs.get(key)?.value as Node;
    if (!isSeq(node)) {
      this.error(key, 'must be a list');
      return null;
    }
    return (node as YAMLSeq<Node>).items;
  }

  /** Each list item as a mapping reader (items that are not mappings are reported and skipped). */
  mapList(key: string, allowedKeys: readonly string[]): MapReader[] {
    const items = this.list(key) ?? [];
    const out: MapReader[] = [];
    items.forEach((item, i) => {
      const path = `${this.keyPath(key)}[${i}]`;
      if (!isMap(item)) {
        this.ctx.error(item, path, 'must be a mapping');
        return;
      }
      out.push(new MapReader(this.ctx, path, item as YAMLMap<Node, Node | null>, allowedKeys));
    });
    return out;
  }

  /**
   * A secret given inline (`key`, env-expanded) or by file (`key_file`, read now and at
   * every reload, trailing newline trimmed as Kubernetes secrets usually carry one).
   * The error never contains the secret.
   */
  secret(key: string, opts: { required?: boolean } = {}): string | null {
    const fileKey = `${key}_file`;
    const inline = this.has(key);
    const fromFile = this.has(fileKey);
    if (inline && fromFile) {
      this.error(fileKey, `set either ${key} or ${fileKey}, not both`);
      return null;
    }
    if (fromFile) {
      const path = this.ctx.resolvePath(this.string(fileKey, '', { nonEmpty: true }));
      if (!path) return null;
      this.ctx.referencedFiles.add(path);
      try {
        return this.ctx.readTextFile(path).replace(/\r?\n$/, '');
      } catch (err) {
        const code = errnoCode(err) ?? 'error';
        // A path taken from the environment is shown as written, like any expanded value.
        const node = this.nodeOf(fileKey);
        const raw = isScalar(node) ? node.value : undefined;
        const where = typeof raw === 'string' && raw.includes('$') ? `${raw} (from the environment)` : path;
        this.error(fileKey, `cannot read ${where}: ${code}`);
        return null;
      }
    }
    if (inline) return this.string(key, '');
    if (opts.required) this.error(key, `is required (or ${fileKey})`);
    return null;
  }
}

/**
 * A bad address as an error shows it: whatever precedes an `@` (user:password, put where no
 * credentials belong) is replaced, so a misplaced secret does not reach logs through the error.
 */
export function hideUserinfo(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^@/]*@/i, '$1<hidden>@');
}

/** A scalar after `${VAR}` expansion, with the text the file holds. */
interface Scalar {
  value: unknown;
  expanded: boolean;
  raw: unknown;
}

/**
 * How an error shows a bad value: as the file wrote it. A value that came from the
 * environment may be a secret put under the wrong key, so the expansion is not shown.
 */
function shown(s: Scalar): string {
  return s.expanded ? `${describe(s.raw)} (from the environment; value not shown)` : describe(s.value);
}

/** The allowed key nearest to a typo, when it is near enough to be a useful hint. */
function closest(key: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(key, c);
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min(
        (row[j] as number) + 1,
        (row[j - 1] as number) + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return row[b.length] as number;
}
