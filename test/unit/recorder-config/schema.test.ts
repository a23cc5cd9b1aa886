import { describe, expect, it } from 'vitest';
import { expandEnv } from '../../../src/config/env.js';
import { configOf, errorsOf, CONFIG_FILE as FILE } from '../../helpers/config.js';

describe('config defaults', () => {
  it('an empty file is every default', () => {
    const c = configOf('');
    expect(c.listenAddress).toEqual({ host: '127.0.0.1', port: 9880 });
    expect(c.queueSize).toBe(8192);
    expect(c.onQueueFull).toBe('reject');
    expect(c.shutdownTimeoutMs).toBe(30_000);
    expect(c.maxBodyBytes).toBe(1024 * 1024);
    expect(c.ingest.coroot).toEqual({ enabled: true, auth: { basic: null, bearerToken: null } });
    expect(c.outputs).toEqual([]);
    expect(c.instance.length).toBeGreaterThan(0);
  });

  it('file outputs resolve relative paths against the config folder and get defaults', () => {
    const c = configOf('file_outputs:\n  - path: data/events.jsonl\n');
    expect(c.outputs).toEqual([
      {
        type: 'file',
        name: 'file:/etc/cer/data/events.jsonl',
        path: '/etc/cer/data/events.jsonl',
        fsync: 'interval',
        fsyncIntervalMs: 1000,
        buffer: {
          type: 'memory',
          maxEvents: 8192,
          maxSize: 1024 ** 3,
          whenFull: 'block',
          sync: 'normal',
          flushIntervalMs: 500,
        },
        fileMode: 0o640,
        filter: { eventTypes: null, sources: null, minSeverity: null },
      },
    ]);
  });

  it('reads every top-level key', () => {
    const c = configOf(
      [
        'instance: edge-1',
        'listen_address: 0.0.0.0:19880',
        'queue_size: 16',
        'on_queue_full: drop',
        'shutdown_timeout: 1m30s',
        'max_body_bytes: 512KiB',
        'file_outputs:',
        '  - path: /var/log/a.jsonl',
        '    fsync: always',
        '    event_types: [alert_firing, alert_resolved]',
        '    sources: [coroot]',
        '    min_severity: warning',
      ].join('\n'),
    );
    expect(c.instance).toBe('edge-1');
    expect(c.listenAddress).toEqual({ host: '0.0.0.0', port: 19880 });
    expect(c.queueSize).toBe(16);
    expect(c.onQueueFull).toBe('drop');
    expect(c.shutdownTimeoutMs).toBe(90_000);
    expect(c.maxBodyBytes).toBe(512 * 1024);
    expect(c.outputs[0]?.filter).toEqual({
      eventTypes: ['alert_firing', 'alert_resolved'],
      sources: ['coroot'],
      minSeverity: 'warning',
    });
  });
});

describe('config errors name the key and the line', () => {
  it('wrong types and values', () => {
    const errors = errorsOf(
      [
        'queue_size: five', // 1
        'on_queue_full: maybe', // 2
        'shutdown_timeout: 10x', // 3
        'max_body_bytes: lots', // 4
        'listen_address: nowhere', // 5
        'file_outputs:', // 6
        '  - path: /a.jsonl', // 7
        '    fsync: sometimes', // 8
        '  - fsync: none', // 9
      ].join('\n'),
    );
    expect(errors).toEqual([
      `${FILE}:1: queue_size: must be an integer between 1 and 16777216, got "five"`,
      `${FILE}:2: on_queue_full: must be one of reject, drop, got "maybe"`,
      `${FILE}:3: shutdown_timeout: must be a duration like 500ms, 10s, 1m or 1h30m, got "10x"`,
      `${FILE}:4: max_body_bytes: must be a size like 1MiB, 512KiB or a number of bytes (at least 1), got "lots"`,
      `${FILE}:5: listen_address: must be host:port (e.g. 127.0.0.1:9880 or :9880), got "nowhere"`,
      `${FILE}:8: file_outputs[0].fsync: must be one of none, interval, always, got "sometimes"`,
      `${FILE}:9: file_outputs[1].path: is required`,
    ]);
  });

  it('unknown keys, with a hint for typos', () => {
    expect(errorsOf('queue_sise: 10\n')).toEqual([
      `${FILE}:1: queue_sise: unknown key (did you mean "queue_size"?)`,
    ]);
    expect(errorsOf('ingest:\n  coroot:\n    basic_auth: { username: u, pasword: p }\n')).toEqual([
      `${FILE}:3: ingest.coroot.basic_auth.pasword: unknown key (did you mean "password"?)`,
      `${FILE}:3: ingest.coroot.basic_auth.password: is required (or password_file)`,
    ]);
  });

  it('duplicate output names', () => {
    const errors = errorsOf('file_outputs:\n  - path: /a\n  - path: /a\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^.*:3: file_outputs\[1\]\.name: output name "file:\/a" is already used by file_outputs\[0\]/,
    );
  });

  it('YAML syntax errors carry the line', () => {
    const errors = errorsOf('queue_size: 1\nfile_outputs: [\n');
    expect(errors[0]).toMatch(new RegExp(`^${FILE}:\\d+: YAML: `));
  });

  it('a top level that is not a mapping', () => {
    expect(errorsOf('- a\n- b\n')).toEqual([`${FILE}:1: the top level must be a mapping of keys`]);
  });

  it('filters reject unknown event types and severities', () => {
    const errors = errorsOf(
      'file_outputs:\n  - path: /a\n    event_types: [alert_fired]\n    min_severity: high\n',
    );
    expect(errors).toEqual([
      `${FILE}:3: file_outputs[0].event_types[0]: must be one of alert_firing, alert_resolved, incident_opened, incident_resolved, deployment, recorder_started, recorder_stopped, config_reloaded, unrecognized, got "alert_fired"`,
      `${FILE}:4: file_outputs[0].min_severity: must be one of unknown, info, warning, critical, got "high"`,
    ]);
  });
});

describe('environment expansion and secrets', () => {
  it('expands ${VAR} and ${VAR:-default} in strings and typed values', () => {
    const c = configOf(
      'instance: ${NODE_NAME}\nqueue_size: ${QUEUE:-64}\nfile_outputs:\n  - path: ${DIR}/e.jsonl\n',
      {
        NODE_NAME: 'node-7',
        DIR: '/data',
      },
    );
    expect(c.instance).toBe('node-7');
    expect(c.queueSize).toBe(64);
    expect(c.outputs[0]?.type === 'file' && c.outputs[0].path).toBe('/data/e.jsonl');
  });

  it('an unset variable without default is an error naming it', () => {
    expect(errorsOf('instance: ${MISSING_VAR}\n')).toEqual([
      `${FILE}:1: instance: environment variable MISSING_VAR is not set (use \${MISSING_VAR:-default} for a default)`,
    ]);
  });

  it('reads password_file and bearer_token_file relative to the config, trimming one newline', () => {
    const c = configOf(
      'ingest:\n  coroot:\n    basic_auth: { username: coroot, password_file: secrets/pw }\n  alertmanager:\n    bearer_token_file: /run/token\n',
      {},
      { '/etc/cer/secrets/pw': 's3cret\n', '/run/token': 'tok' },
    );
    expect(c.ingest.coroot.auth.basic).toEqual({ username: 'coroot', password: 's3cret' });
    expect(c.ingest.alertmanager.auth.bearerToken).toBe('tok');
    expect(c.referencedFiles.sort()).toEqual(['/etc/cer/secrets/pw', '/run/token']);
  });

  it('an unreadable secret file is an error that does not leak anything', () => {
    const errors = errorsOf('ingest:\n  coroot:\n    bearer_token_file: /nope\n');
    expect(errors).toEqual([`${FILE}:3: ingest.coroot.bearer_token_file: cannot read /nope: ENOENT`]);
  });

  it('a bad value taken from the environment is shown as written, never expanded', () => {
    // A secret exported under the wrong variable must not reach logs through an error.
    const env = { SECRET: 'hunter2-not-a-number', PW: 'hunter2-password' };
    const errors = errorsOf('queue_size: ${SECRET}\ningest:\n  coroot:\n    bearer_token_file: ${PW}\n', env);
    expect(errors).toEqual([
      `${FILE}:1: queue_size: must be an integer between 1 and 16777216, got "\${SECRET}" (from the environment; value not shown)`,
      `${FILE}:4: ingest.coroot.bearer_token_file: cannot read \${PW} (from the environment): ENOENT`,
    ]);
    expect(errors.join('\n')).not.toContain('hunter2');
  });

  it('both a secret and its file is an error', () => {
    const errors = errorsOf(
      'ingest:\n  coroot:\n    bearer_token: a\n    bearer_token_file: /x\n',
      {},
      { '/x': 'b' },
    );
    expect(errors).toEqual([
      `${FILE}:4: ingest.coroot.bearer_token_file: set either bearer_token or bearer_token_file, not both`,
    ]);
  });

  it('expandEnv handles $$ and empty values', () => {
    expect(expandEnv('a$$b', {})).toEqual({ ok: true, value: 'a$b' });
    expect(expandEnv('${E:-x}', { E: '' })).toEqual({ ok: true, value: 'x' });
    expect(expandEnv('${E}', { E: '' })).toEqual({ ok: true, value: '' });
  });
});
