// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config text uses ${VAR} expansion on purpose
import { describe, expect, it } from 'vitest';
import type { CorootApiConfig } from '../../../src/config/coroot-api.js';
import { configOf, CONFIG_FILE as FILE, errorsOf as rejected } from '../../helpers/config.js';

const FILES: Record<string, string> = { '/run/secrets/coroot': 'file-pass\n' };

function pollers(yaml: string, env: NodeJS.ProcessEnv = {}): CorootApiConfig[] {
  return configOf(yaml, env, FILES).ingest.corootApi;
}

function errorsOf(yaml: string): string[] {
  return rejected(yaml, {}, FILES);
}

describe('ingest.coroot_api', () => {
  it('is an empty list when absent', () => {
    expect(pollers('')).toEqual([]);
    expect(pollers('ingest:\n  coroot: { enabled: true }\n')).toEqual([]);
  });

  it('applies the documented defaults (anonymous, state file next to the config)', () => {
    expect(
      pollers('ingest:\n  coroot_api:\n    - url: https://coroot.example.com/\n      project: x0xwl4jz\n'),
    ).toEqual([
      {
        url: 'https://coroot.example.com',
        project: 'x0xwl4jz',
        email: null,
        password: null,
        intervalMs: 30_000,
        timeoutMs: 10_000,
        maxBackoffMs: 300_000,
        pageSize: 1000,
        stateFile: '/etc/cer/data/coroot-api-x0xwl4jz.json',
      },
    ]);
  });

  it('reads every key, the password from a file, and keeps a base path', () => {
    const [c] = pollers(
      [
        'ingest:',
        '  coroot_api:',
        '    - url: http://ops.example.com:8080/coroot/',
        '      project: x0xwl4jz',
        '      email: bot@example.com',
        '      password_file: /run/secrets/coroot',
        '      interval: 100ms',
        '      timeout: 2s',
        '      max_backoff: 1m',
        '      page_size: 50',
        '      state_file: /var/lib/cer/x.json',
        '    - url: https://coroot.example.com',
        '      project: other',
        '      email: bot@example.com',
        '      password: ${PW}',
        '',
      ].join('\n'),
      { PW: 'env-pass' },
    );
    expect(c).toEqual({
      url: 'http://ops.example.com:8080/coroot',
      project: 'x0xwl4jz',
      email: 'bot@example.com',
      password: 'file-pass',
      intervalMs: 100,
      timeoutMs: 2000,
      maxBackoffMs: 60_000,
      pageSize: 50,
      stateFile: '/var/lib/cer/x.json',
    });
  });

  it('names the key and line of each mistake', () => {
    const errors = errorsOf(
      [
        'ingest:',
        '  coroot_api:',
        '    - url: ftp://coroot.example.com', // 3
        '      project: x0xwl4jz',
        '      interval: 10ms', // 5
        '      page_size: 0', // 6
        '      intervl: 1s', // 7
        '    - project: p2', // 8: no url
        '      email: bot@example.com', // 9: no password
        '    - url: https://bot:secret@coroot.example.com/?x=1', // 10
        '      project: "a/b"', // 11
        '      password: hunter2', // 12: no email
        '',
      ].join('\n'),
    );
    expect(errors).toEqual([
      `${FILE}:3: ingest.coroot_api[0].url: must use http or https, got "ftp"`,
      `${FILE}:5: ingest.coroot_api[0].interval: must be at least 100ms, got "10ms"`,
      `${FILE}:6: ingest.coroot_api[0].page_size: must be an integer between 1 and 100000, got 0`,
      `${FILE}:7: ingest.coroot_api[0].intervl: unknown key (did you mean "interval"?)`,
      `${FILE}:8: ingest.coroot_api[1].url: is required`,
      `${FILE}:9: ingest.coroot_api[1].email: needs password or password_file too`,
      `${FILE}:10: ingest.coroot_api[2].url: must not carry user:password@; use email and password (or password_file)`,
      `${FILE}:10: ingest.coroot_api[2].url: must not carry a query or fragment: give Coroot's base URL`,
      `${FILE}:11: ingest.coroot_api[2].project: must be a Coroot project id (as in /p/<project>/), got "a/b"`,
      `${FILE}:12: ingest.coroot_api[2].password: needs email too`,
    ]);
    expect(errors.join('\n')).not.toContain('secret');
    expect(errors.join('\n')).not.toContain('hunter2');
  });

  it('refuses two entries for the same project or the same state file', () => {
    const errors = errorsOf(
      [
        'ingest:',
        '  coroot_api:',
        '    - { url: https://c.example.com, project: p1 }',
        '    - { url: https://c.example.com/, project: p1 }',
        '    - { url: https://c.example.com, project: p2, state_file: ./data/coroot-api-p1.json }',
        '',
      ].join('\n'),
    );
    expect(errors).toEqual([
      `${FILE}:4: ingest.coroot_api[1].project: project "p1" of https://c.example.com is already polled by ingest.coroot_api[0]`,
      `${FILE}:4: ingest.coroot_api[1].state_file: /etc/cer/data/coroot-api-p1.json is already used by ingest.coroot_api[0]; each entry needs its own`,
      `${FILE}:5: ingest.coroot_api[2].state_file: /etc/cer/data/coroot-api-p1.json is already used by ingest.coroot_api[0]; each entry needs its own`,
    ]);
  });

  it('reports an unreadable password file without its content', () => {
    const errors = errorsOf(
      'ingest:\n  coroot_api:\n    - { url: https://c.example.com, project: p, email: a@b, password_file: /nope }\n',
    );
    expect(errors).toEqual([`${FILE}:3: ingest.coroot_api[0].password_file: cannot read /nope: ENOENT`]);
  });
});
