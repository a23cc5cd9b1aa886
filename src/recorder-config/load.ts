import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMap, LineCounter, parseDocument } from 'yaml';
import { ConfigIssue, MapReader, ReadContext } from '../config/reader.js';
import { errnoCode } from '../lib/errno.js';
import { type RecorderConfig, readRecorderConfig, TOP_LEVEL_KEYS } from './schema.js';

export type LoadResult = { ok: true; config: RecorderConfig } | { ok: false; issues: ConfigIssue[] };

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Reads `*_file` secrets and TLS files; tests replace it. */
  readTextFile?: (path: string) => string;
}

/** Parses and validates YAML text that came from `file` (used for relative paths and messages). */
export function parseConfigText(text: string, file: string, opts: LoadOptions = {}): LoadResult {
  const absFile = resolve(file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const ctx = new ReadContext(
    absFile,
    dirname(absFile),
    lineCounter,
    opts.env ?? process.env,
    opts.readTextFile,
  );
  if (doc.errors.length > 0) {
    const issues = doc.errors.map(
      (e) =>
        new ConfigIssue(absFile, lineCounter.linePos(e.pos[0]).line, '', `YAML: ${firstLine(e.message)}`),
    );
    return { ok: false, issues };
  }
  const contents = doc.contents;
  if (contents === null || (contents && 'value' in contents && contents.value === null)) {
    // An empty file is a valid config with every default (like an empty Alertmanager route).
    return finish(ctx, new MapReader(ctx, '', parseDocument('{}').contents as never, []), absFile, text);
  }
  if (!isMap(contents)) {
    return {
      ok: false,
      issues: [new ConfigIssue(absFile, ctx.lineOf(contents), '', 'the top level must be a mapping of keys')],
    };
  }
  return finish(ctx, new MapReader(ctx, '', contents as never, TOP_LEVEL_KEYS), absFile, text);
}

function finish(ctx: ReadContext, root: MapReader, file: string, text: string): LoadResult {
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const config = readRecorderConfig(root, file, hash);
  if (ctx.issues.length === 0) return { ok: true, config };
  const issues = [...ctx.issues].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return { ok: false, issues };
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/** Reads and validates a config file. Never throws: an unreadable file is an issue too. */
export async function loadConfigFile(file: string, opts: LoadOptions = {}): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = errnoCode(err) ?? 'error';
    return {
      ok: false,
      issues: [new ConfigIssue(resolve(file), null, '', `cannot read the config file: ${code}`)],
    };
  }
  return parseConfigText(text, file, opts);
}
