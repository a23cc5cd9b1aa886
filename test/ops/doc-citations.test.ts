/*
 * The repository stands alone: what src/, cmd/ and test/ cite exists in it. Every Markdown file
 * named anywhere (comments, strings, messages) resolves to a file of the repository; a quoted
 * section after a docs/*.md path ("docs/configuration.md "Reload"") is one of that file's
 * headings; a repository path named in a comment (src/..., test/..., docs/..., config/...) exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/daemon.js';

const SCANNED = ['src', 'cmd', 'test'];
/** Inputs, not citations: fixtures hold what senders send; this file holds broken examples. */
const SKIPPED = new Set(['test/fixtures', 'test/ops/doc-citations.test.ts']);
const TEXT = /\.(ts|json|xml|yaml|yml|sh|md)$/;

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (SKIPPED.has(path) || entry.name === 'node_modules') continue;
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (TEXT.test(entry.name)) out.push(path);
  }
  return out;
}

function repositoryFileNames(dir = ''): Set<string> {
  const names = new Set<string>();
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    if (['.git', 'node_modules', 'dist', 'coverage', '.cache', 'data'].includes(entry.name)) continue;
    if (entry.isDirectory()) for (const name of repositoryFileNames(join(dir, entry.name))) names.add(name);
    else names.add(entry.name);
  }
  return names;
}

/** A Markdown file name or path, not part of a glob, template or longer path. */
const MARKDOWN = /(?<![\w/.*<${@-])((?:\.{1,2}\/)*(?:[\w-]+\/)*[\w.-]+\.md)\b/g;
/** A docs/*.md path followed by a quoted section: `docs/x.md "Y"`, `docs/x.md, "Y"`, `docs/x.md ("Y")`. */
const SECTION = /\b(docs\/[\w-]+\.md),? \(?"([^"\n]+)"/g;
/** A repository path with an extension (Markdown is MARKDOWN's). */
const REPO_PATH = /(?<![\w/.*<${@-])((?:src|test|cmd|docs|config)\/[\w./-]*\.(?!md\b)\w+)/g;
/** Block comments, line comments (not the `//` of a URL) and XML comments. */
const COMMENT = /\/\*[\s\S]*?\*\/|(?<![:'"`\w])\/\/[^\n]*|<!--[\s\S]*?-->/g;

function headings(doc: string): string[] {
  return readFileSync(join(ROOT, doc), 'utf8')
    .split('\n')
    .filter((line) => /^#{1,6} /.test(line))
    .map((line) => line.replace(/^#+ /, '').replaceAll('`', '').toLowerCase());
}

function brokenCitations(): string[] {
  const names = repositoryFileNames();
  const broken: string[] = [];
  for (const file of SCANNED.flatMap((dir) => filesUnder(dir))) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const [, cited] of text.matchAll(MARKDOWN)) {
      const target = cited as string;
      const found = target.startsWith('.')
        ? existsSync(join(ROOT, normalize(join(dirname(file), target))))
        : target.includes('/')
          ? existsSync(join(ROOT, target))
          : names.has(basename(target));
      if (!found) broken.push(`${file}: cites ${target}, which is not in the repository`);
    }
    for (const [, doc, section] of text.matchAll(SECTION)) {
      if (!existsSync(join(ROOT, doc as string))) continue;
      const wanted = (section as string).replaceAll('`', '').toLowerCase();
      if (!headings(doc as string).some((heading) => heading.includes(wanted))) {
        broken.push(`${file}: cites section "${section}" of ${doc}, which has no such heading`);
      }
    }
    for (const comment of text.match(COMMENT) ?? []) {
      for (const [, path] of comment.matchAll(REPO_PATH)) {
        const target = (path as string).replace(/\.$/, '');
        if (!existsSync(join(ROOT, target)))
          broken.push(`${file}: a comment names ${target}, which does not exist`);
      }
    }
  }
  return broken;
}

describe('citations in src/, cmd/ and test/', () => {
  it('name only files and sections the repository has', () => {
    expect(brokenCitations()).toEqual([]);
  });

  it('would notice a citation of a design file outside the repository', () => {
    const text = '// See ARCHITECTURE.md and docs/configuration.md "No such section".';
    expect([...text.matchAll(MARKDOWN)].map((m) => m[1])).toEqual([
      'ARCHITECTURE.md',
      'docs/configuration.md',
    ]);
    expect(repositoryFileNames().has('ARCHITECTURE.md')).toBe(false);
    const [match] = [...text.matchAll(SECTION)];
    expect(match?.[2]).toBe('No such section');
    expect(headings('docs/configuration.md').some((h) => h.includes('no such section'))).toBe(false);
  });
});
