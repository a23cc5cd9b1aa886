// Import layering check, run by `npm run lint`: no import cycle between files, and no import from a
// lower top-level part of src/ into a higher one (docs/architecture.md, "Rules"). Type-only imports
// count: a type import is still a dependency a reader has to follow. Biome's cycle rule cannot express
// layers, and dependency-cruiser no longer runs on the Node line `engines` names, so this reads the
// imports with the scanner of the TypeScript compiler already installed (TypeScript 7 ships no
// stable JavaScript API yet; its scanner is exported as `typescript/unstable/ast/scanner`).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SyntaxKind } from 'typescript/unstable/ast';
import { createScanner } from 'typescript/unstable/ast/scanner';

/**
 * Each top-level part of src/ (a folder, or a file without its extension) and cmd/, lowest first.
 * A part may import only parts in a strictly lower layer (or itself), so parts of one layer never
 * import each other and no cycle between parts is possible.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['version', 'lib'],
  ['events', 'log'],
  ['metrics'],
  ['config'],
  ['outputs'],
  ['recorder-config'],
  // One layer: ingest hands drafts to the recorder through events/sink.ts, never by importing it,
  // and the recorder knows nothing of HTTP; the daemon wires the two together.
  ['recorder', 'ingest'],
  ['daemon', 'replay', 'buffers'],
  ['cmd'],
];

/**
 * Known violations still being removed, as "from-part -> to-part" (layers) or a file path that takes
 * part in a cycle. Each entry says why it is still here; the list must end empty.
 */
export const EXCEPTIONS: ReadonlyMap<string, string> = new Map<string, string>([]);

export interface Violation {
  kind: 'layer' | 'cycle' | 'unknown-part';
  /** What the exception list would name: "a -> b" for a layer, the sorted files of a cycle. */
  key: string;
  message: string;
}

export interface CheckResult {
  violations: Violation[];
  /** Exceptions that no longer match anything: delete them. */
  staleExceptions: string[];
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The part of a file relative to the root: `cmd`, or the first path segment under src/. */
export function partOf(file: string): string {
  const segments = file.split(sep);
  if (segments[0] === 'cmd') return 'cmd';
  const first = segments[1] ?? '';
  return segments.length > 2 ? first : first.replace(/\.ts$/, '');
}

/** Tokens after which a `/` starts a division, not a regular expression. */
const ENDS_OPERAND = new Set<SyntaxKind>([
  SyntaxKind.Identifier,
  SyntaxKind.NumericLiteral,
  SyntaxKind.BigIntLiteral,
  SyntaxKind.StringLiteral,
  SyntaxKind.NoSubstitutionTemplateLiteral,
  SyntaxKind.TemplateTail,
  SyntaxKind.RegularExpressionLiteral,
  SyntaxKind.CloseParenToken,
  SyntaxKind.CloseBracketToken,
  SyntaxKind.CloseBraceToken,
  SyntaxKind.ThisKeyword,
  SyntaxKind.SuperKeyword,
  SyntaxKind.TrueKeyword,
  SyntaxKind.FalseKeyword,
  SyntaxKind.NullKeyword,
  SyntaxKind.PlusPlusToken,
  SyntaxKind.MinusMinusToken,
]);

/**
 * Module specifiers of one file's source: `... from 'x'` (imports, `import type`, re-exports),
 * `import 'x'` and `import('x')`. Token by token, so strings, comments, template literals and regular
 * expressions that merely contain such text are not mistaken for imports.
 */
export function moduleSpecifiers(source: string): string[] {
  const scanner = createScanner(true);
  scanner.setText(source);
  const found: string[] = [];
  // Brace depth at which each open template literal's `${` was entered.
  const templates: number[] = [];
  let depth = 0;
  let before = SyntaxKind.Unknown;
  let previous = SyntaxKind.Unknown;
  for (let token = scanner.scan(); token !== SyntaxKind.EndOfFile; token = scanner.scan()) {
    if (
      (token === SyntaxKind.SlashToken || token === SyntaxKind.SlashEqualsToken) &&
      !ENDS_OPERAND.has(previous)
    ) {
      token = scanner.reScanSlashToken();
    } else if (token === SyntaxKind.OpenBraceToken) {
      depth++;
    } else if (token === SyntaxKind.TemplateHead) {
      templates.push(depth);
    } else if (token === SyntaxKind.CloseBraceToken) {
      if (templates.at(-1) === depth) {
        token = scanner.reScanTemplateToken(false);
        if (token === SyntaxKind.TemplateTail) templates.pop();
      } else {
        depth--;
      }
    } else if (token === SyntaxKind.StringLiteral) {
      const dynamic = previous === SyntaxKind.OpenParenToken && before === SyntaxKind.ImportKeyword;
      if (previous === SyntaxKind.FromKeyword || previous === SyntaxKind.ImportKeyword || dynamic) {
        found.push(scanner.getTokenValue());
      }
    }
    before = previous;
    previous = token;
  }
  return found;
}

/** Relative imports of one file (imports, `import type`, re-exports, dynamic imports), as root-relative .ts paths. */
export function importsOf(root: string, file: string): string[] {
  return moduleSpecifiers(readFileSync(join(root, file), 'utf8'))
    .filter((name) => name.startsWith('.'))
    .map((name) => normalize(join(dirname(file), name)).replace(/\.js$/, '.ts'));
}

/** Strongly connected components with more than one file (or a file importing itself), by Tarjan. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    indices.set(node, index);
    low.set(node, index);
    index++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!indices.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, indices.get(next)!));
      }
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!indices.has(node)) visit(node);
  return found;
}

export function checkImports(
  root: string,
  layers: readonly (readonly string[])[] = LAYERS,
  exceptions: ReadonlyMap<string, string> = EXCEPTIONS,
): CheckResult {
  const rank = new Map<string, number>();
  layers.forEach((parts, i) => {
    for (const part of parts) rank.set(part, i);
  });
  const files = ['src', 'cmd'].flatMap((dir) => tsFiles(join(root, dir)).map((file) => relative(root, file)));
  const graph = new Map(files.map((file) => [file, importsOf(root, file)]));

  const found: Violation[] = [];
  const seenLayer = new Set<string>();
  for (const [file, imports] of graph) {
    const from = partOf(file);
    if (!rank.has(from) && !seenLayer.has(from)) {
      seenLayer.add(from);
      found.push({
        kind: 'unknown-part',
        key: from,
        message: `${file}: top-level part "${from}" is in no layer (add it to LAYERS in test/ops/import-layers.ts)`,
      });
    }
    for (const target of imports) {
      const to = partOf(target);
      if (from === to || !rank.has(from) || !rank.has(to)) continue;
      if (rank.get(to)! >= rank.get(from)!) {
        found.push({
          kind: 'layer',
          key: `${from} -> ${to}`,
          message: `${file} imports ${target}: "${from}" may not import "${to}" (same or higher layer)`,
        });
      }
    }
  }
  for (const component of cycles(graph)) {
    found.push({ kind: 'cycle', key: component.join(' '), message: `import cycle: ${component.join(', ')}` });
  }

  const used = new Set<string>();
  const violations = found.filter((violation) => {
    const excused = [...exceptions.keys()].find(
      (key) =>
        key === violation.key || (violation.kind === 'cycle' && violation.key.split(' ').includes(key)),
    );
    if (excused === undefined) return true;
    used.add(excused);
    return false;
  });
  return { violations, staleExceptions: [...exceptions.keys()].filter((key) => !used.has(key)) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const { violations, staleExceptions } = checkImports(root);
  for (const violation of violations) console.error(violation.message);
  for (const key of staleExceptions) console.error(`stale exception in test/ops/import-layers.ts: ${key}`);
  if (violations.length > 0 || staleExceptions.length > 0) process.exit(1);
}
