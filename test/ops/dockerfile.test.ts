/*
 * The production image, checked without a Docker engine: the Dockerfile passes
 * dockerfile-utils' linter (the one behind VS Code's Dockerfile support) with every rule
 * at error level, and has the properties the README and the Kubernetes manifests rely on.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationSeverity, validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { parseListenAddress } from '../../src/recorder-config/schema.js';
import { configOf } from '../helpers/config.js';
import { ROOT } from '../helpers/daemon.js';

const CONFIG_PATH = '/etc/coroot-event-recorder/recorder.yaml';
const DATA_DIR = '/var/lib/coroot-event-recorder';

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** Instructions of a Dockerfile: comments and blank lines skipped, `\` continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let current: Instruction | null = null;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (current === null) {
      if (line === '' || line.startsWith('#')) return;
      const m = /^(\S+)\s*(.*)$/.exec(line) as RegExpExecArray;
      current = { keyword: (m[1] as string).toUpperCase(), args: m[2] as string, line: i + 1 };
    } else {
      if (line.startsWith('#')) return;
      current.args += ` ${line}`;
    }
    if (current.args.endsWith('\\')) {
      current.args = current.args.slice(0, -1).trimEnd();
      return;
    }
    out.push(current);
    current = null;
  });
  if (current) out.push(current);
  return out;
}

/** JSON (exec) form of CMD / ENTRYPOINT / HEALTHCHECK CMD, as an array. */
function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
    throw new Error(`not an exec-form array: ${args}`);
  }
  return parsed;
}

/** The properties the image must have; each returned string is one problem. */
function dockerfileProblems(text: string): string[] {
  const problems: string[] = [];
  const all = parseDockerfile(text);
  const froms = all.map((ins, i) => ({ ins, i })).filter(({ ins }) => ins.keyword === 'FROM');
  if (froms.length < 2) problems.push('not a multi-stage build (needs a build stage and a runtime stage)');
  const lastFrom = froms.at(-1);
  const runtime = lastFrom ? all.slice(lastFrom.i + 1) : all;
  const build = lastFrom ? all.slice(0, lastFrom.i) : [];
  const find = (kw: string): Instruction[] => runtime.filter((ins) => ins.keyword === kw);

  const base = lastFrom?.ins.args.split(/\s+/)[0] ?? '';
  if (!/^node:26[\w.-]*-slim$|^gcr\.io\/distroless\/nodejs26/.test(base)) {
    problems.push(`runtime base must be Node 26 (the production runtime) slim or distroless, got "${base}"`);
  }
  if (!build.some((ins) => ins.keyword === 'RUN' && /\bnpm run build\b/.test(ins.args))) {
    problems.push('the build stage does not compile (npm run build)');
  }
  if (!find('RUN').some((ins) => /\bnpm ci\b.*--omit=dev/.test(ins.args))) {
    problems.push('the runtime stage does not install with npm ci --omit=dev');
  }
  if (!find('COPY').some((ins) => /--from=\S+\s+\S*dist\b/.test(ins.args))) {
    problems.push('the runtime stage does not copy the compiled dist/ from the build stage');
  }
  const user = find('USER').at(-1)?.args.split(':')[0] ?? '';
  if (user === '' || user === 'root' || user === '0')
    problems.push(`the image must run as non-root, USER is "${user}"`);
  else if (!/^\d+$/.test(user))
    problems.push(`USER must be numeric for Kubernetes runAsNonRoot, got "${user}"`);

  const exposed = find('EXPOSE').flatMap((ins) => ins.args.split(/\s+/).map((p) => Number.parseInt(p, 10)));
  if (exposed.length === 0) problems.push('no EXPOSE');

  const cmd = find('CMD').at(-1);
  const args = cmd ? execForm(cmd.args) : [];
  const configArg = args[args.indexOf('--config') + 1];
  if (!args.includes('--config') || configArg !== CONFIG_PATH) {
    problems.push(`CMD must run --config ${CONFIG_PATH}, got ${JSON.stringify(args)}`);
  }
  const listen = parseListenAddress(args[args.indexOf('--listen-address') + 1] ?? '');
  if (!args.includes('--listen-address') || !listen || listen.host !== '0.0.0.0') {
    problems.push('CMD must listen on all interfaces (--listen-address 0.0.0.0:PORT)');
  } else if (!exposed.includes(listen.port)) {
    problems.push(`EXPOSE ${exposed.join(' ')} does not include the listen port ${listen.port}`);
  }
  const health = find('HEALTHCHECK').at(-1)?.args ?? '';
  const healthPort = /127\.0\.0\.1:(\d+)\/-\/healthy/.exec(health)?.[1];
  if (healthPort === undefined) problems.push('HEALTHCHECK must probe /-/healthy on 127.0.0.1');
  else if (listen && Number(healthPort) !== listen.port) {
    problems.push(`HEALTHCHECK probes port ${healthPort}, the daemon listens on ${listen.port}`);
  }
  if (
    !find('COPY').some((ins) => new RegExp(`(^|\\s)config/recorder\\.yaml\\s+${CONFIG_PATH}$`).test(ins.args))
  ) {
    problems.push(`config/recorder.yaml is not copied to ${CONFIG_PATH}`);
  }
  if (!find('VOLUME').some((ins) => ins.args.includes(DATA_DIR))) problems.push(`no VOLUME ${DATA_DIR}`);
  if (!find('ENV').some((ins) => new RegExp(`\\bDATA_DIR=${DATA_DIR}\\b`).test(ins.args))) {
    problems.push(`ENV DATA_DIR=${DATA_DIR} is not set (the default config writes under it)`);
  }
  if (!find('RUN').some((ins) => ins.args.includes('chown') && ins.args.includes(DATA_DIR))) {
    problems.push(`${DATA_DIR} is not made writable for the non-root user`);
  }
  return problems;
}

const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

describe('Dockerfile', () => {
  const lint = (text: string): string[] => {
    const all = ValidationSeverity.ERROR;
    const diagnostics = validate(text, {
      deprecatedMaintainer: all,
      directiveCasing: all,
      emptyContinuationLine: all,
      instructionCasing: all,
      instructionCmdMultiple: all,
      instructionEntrypointMultiple: all,
      instructionHealthcheckMultiple: all,
      instructionJSONInSingleQuotes: all,
      instructionWorkdirRelative: all,
    });
    return diagnostics.map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
  };

  it('passes dockerfile-utils lint with every rule as an error', () => {
    expect(lint(DOCKERFILE)).toEqual([]);
  });

  it('lint catches a broken Dockerfile', () => {
    expect(lint(DOCKERFILE.replace('WORKDIR /app', 'workdir app'))).toHaveLength(2);
    expect(lint(`${DOCKERFILE}HEALTHCHECK NONE\n`)).not.toEqual([]);
  });

  it('has every property of the production image', () => {
    expect(dockerfileProblems(DOCKERFILE)).toEqual([]);
  });

  it('writes only to the data volume with the default config', () => {
    // The image's config, read as the container reads it (DATA_DIR from the Dockerfile's ENV).
    const config = configOf(
      readFileSync(join(ROOT, 'config/recorder.yaml'), 'utf8'),
      { DATA_DIR },
      {},
      CONFIG_PATH,
    );
    const paths = [
      ...config.outputs.flatMap((o) => (o.type === 'file' ? [o.path] : [])),
      ...config.ingest.corootApi.map((c) => c.stateFile),
    ];
    expect(paths.length).toBeGreaterThan(0);
    for (const p of paths) expect(p.startsWith(`${DATA_DIR}/`), p).toBe(true);
  });

  // The checks above must be able to fail: each broken variant is caught.
  it.each([
    ['single stage', (t: string) => t.replace(/^FROM node:26-trixie-slim AS build[\s\S]*?(?=^FROM )/m, '')],
    ['runs as root', (t: string) => t.replace(/^USER .*$/m, 'USER root')],
    ['named user', (t: string) => t.replace(/^USER .*$/m, 'USER node')],
    ['no HEALTHCHECK', (t: string) => t.replace(/^HEALTHCHECK[^\n]*\\\n[^\n]*\n/m, '')],
    ['no EXPOSE', (t: string) => t.replace(/^EXPOSE .*$/m, '')],
    ['dev dependencies', (t: string) => t.replace('npm ci --omit=dev', 'npm ci')],
    ['other config path', (t: string) => t.replaceAll(CONFIG_PATH, '/app/recorder.yaml')],
    ['no volume', (t: string) => t.replace(/^VOLUME .*$/m, '')],
    ['no DATA_DIR', (t: string) => t.replace(/DATA_DIR=\S+/, 'DATA_DIR=/tmp')],
    [
      'full node image',
      (t: string) => t.replace(/^FROM node:26-trixie-slim AS runtime/m, 'FROM node:26 AS runtime'),
    ],
    ['port mismatch', (t: string) => t.replace(/^EXPOSE 9880$/m, 'EXPOSE 8080')],
    [
      'older Node line',
      (t: string) =>
        t.replace(/^FROM node:26-trixie-slim AS runtime/m, 'FROM node:22-bookworm-slim AS runtime'),
    ],
  ])('catches a Dockerfile with %s', (_name, breakIt) => {
    const broken = breakIt(DOCKERFILE);
    expect(broken).not.toBe(DOCKERFILE);
    expect(dockerfileProblems(broken)).not.toEqual([]);
  });
});
