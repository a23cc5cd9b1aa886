// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config text uses ${VAR} expansion on purpose
import { describe, expect, it } from 'vitest';
import { WEBHOOK_OUTPUT_DEFAULTS, type WebhookOutputConfig } from '../../../../src/outputs/webhook/config.js';
import { Redactor, requestHeaders } from '../../../../src/outputs/webhook/request.js';
import { outputOf, errorsOf as rejected } from '../../../helpers/config.js';

const FILE = '/etc/recorder/config.yaml';
const FILES: Record<string, string> = {
  '/run/secrets/token': 'file-token\n',
  '/run/secrets/pw': 'file-password\n',
  '/etc/recorder/ca.pem': '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n',
};

function webhook(yaml: string, env: NodeJS.ProcessEnv = {}): WebhookOutputConfig {
  return outputOf('webhook', yaml, env, FILES, FILE);
}

function errorsOf(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  return rejected(yaml, env, FILES, FILE);
}

describe('webhook_outputs', () => {
  it('applies the documented defaults', () => {
    const c = webhook('webhook_outputs:\n  - url: https://hooks.example.com/coroot\n');
    expect(c).toEqual({
      type: 'webhook',
      name: 'webhook:https://hooks.example.com/coroot',
      url: 'https://hooks.example.com/coroot',
      headers: {},
      auth: { basic: null, bearerToken: null },
      tls: null,
      timeoutMs: 10_000,
      workers: 4,
      buffer: WEBHOOK_OUTPUT_DEFAULTS.buffer,
      maxAttempts: 5,
      retryBackoffMs: 500,
      maxBackoffMs: 30_000,
      batch: null,
      format: 'json',
      filter: { eventTypes: null, sources: null, minSeverity: null },
    });
  });

  it('reads every key', () => {
    const c = webhook(
      [
        'webhook_outputs:',
        '  - url: http://127.0.0.1:8080/hook?team=sre',
        '    name: sre-hook',
        '    headers: { X-Team: sre, X-Api-Key: "${KEY}" }',
        '    bearer_token_file: /run/secrets/token',
        '    timeout: 2s',
        '    workers: 8',
        '    buffer: { max_events: 10 }',
        '    max_attempts: 1',
        '    retry_backoff: 100ms',
        '    max_backoff: 1m',
        '    batch: { max_events: 10, max_bytes: 64KiB, flush_interval: 0 }',
        '    event_types: [alert_firing]',
        '',
      ].join('\n'),
      { KEY: 'k-123' },
    );
    expect(c).toMatchObject({
      name: 'sre-hook',
      url: 'http://127.0.0.1:8080/hook?team=sre',
      headers: { 'X-Team': 'sre', 'X-Api-Key': 'k-123' },
      auth: { basic: null, bearerToken: 'file-token' },
      timeoutMs: 2000,
      workers: 8,
      buffer: { maxEvents: 10, whenFull: 'drop_newest', type: 'memory' },
      maxAttempts: 1,
      retryBackoffMs: 100,
      maxBackoffMs: 60_000,
      batch: { maxEvents: 10, maxBytes: 65_536, flushIntervalMs: 0 },
      filter: { eventTypes: ['alert_firing'] },
    });
  });

  it('batch: {} turns batching on with the documented defaults', () => {
    const c = webhook('webhook_outputs:\n  - url: https://h.example.com/\n    batch: {}\n');
    expect(c.batch).toEqual(WEBHOOK_OUTPUT_DEFAULTS.batch);
    expect(c.batch).toEqual({ maxEvents: 100, maxBytes: 1024 * 1024, flushIntervalMs: 100 });
  });

  it('names the output without userinfo, query or fragment, and uses userinfo as basic auth', () => {
    const c = webhook(
      'webhook_outputs:\n  - url: "https://bot:p%40ss@hooks.example.com:8443/a/b?token=t0k3n#frag"\n',
    );
    expect(c.name).toBe('webhook:https://hooks.example.com:8443/a/b');
    expect(c.url).toBe('https://hooks.example.com:8443/a/b?token=t0k3n');
    expect(c.auth).toEqual({ basic: { username: 'bot', password: 'p@ss' }, bearerToken: null });
  });

  it('reads basic_auth with password_file', () => {
    const c = webhook(
      'webhook_outputs:\n  - url: https://h.example.com/\n    basic_auth: { username: u, password_file: /run/secrets/pw }\n',
    );
    expect(c.auth.basic).toEqual({ username: 'u', password: 'file-password' });
  });

  it('reads tls files relative to the config file', () => {
    const c = webhook(
      'webhook_outputs:\n  - url: https://h.example.com/\n    tls: { ca_file: ca.pem, server_name: hooks, insecure_skip_verify: false }\n',
    );
    expect(c.tls).toEqual({
      ca: FILES['/etc/recorder/ca.pem'],
      cert: null,
      key: null,
      serverName: 'hooks',
      insecureSkipVerify: false,
    });
  });

  it('rejects what cannot work, naming key and line', () => {
    const yaml = [
      'webhook_outputs:',
      '  - url: ftp://h.example.com/',
      '    workers: 0',
      '    max_attempts: five',
      '    timeout: soon',
      '    batch: { max_events: 0, max_bytes: 1 }',
      '    retry_bakoff: 1s',
      '',
    ].join('\n');
    expect(errorsOf(yaml)).toEqual([
      `${FILE}:2: webhook_outputs[0].url: must use http or https, got "ftp"`,
      `${FILE}:3: webhook_outputs[0].workers: must be an integer between 1 and 1024, got 0`,
      `${FILE}:4: webhook_outputs[0].max_attempts: must be an integer >= 1, got "five"`,
      `${FILE}:5: webhook_outputs[0].timeout: must be a duration like 500ms, 10s, 1m or 1h30m, got "soon"`,
      `${FILE}:6: webhook_outputs[0].batch.max_events: must be an integer between 1 and 1000000, got 0`,
      `${FILE}:6: webhook_outputs[0].batch.max_bytes: must be a size like 1MiB, 512KiB or a number of bytes (at least 2), got 1`,
      `${FILE}:7: webhook_outputs[0].retry_bakoff: unknown key (did you mean "retry_backoff"?)`,
    ]);
  });

  it('format: json by default, cloudevents on request; ce- headers are then reserved', () => {
    expect(
      webhook('webhook_outputs:\n  - url: https://h.example.com/\n    format: cloudevents\n').format,
    ).toBe('cloudevents');
    // Under json a ce- header is an ordinary header.
    expect(
      webhook('webhook_outputs:\n  - url: https://h.example.com/\n    headers: { Ce-Team: sre }\n').headers,
    ).toEqual({ 'Ce-Team': 'sre' });
    expect(
      errorsOf(
        'webhook_outputs:\n  - url: https://h.example.com/\n    format: cloudevents\n    headers: { Ce-Id: x }\n',
      ),
    ).toEqual([
      `${FILE}:4: webhook_outputs[0].headers.Ce-Id: cannot be set in headers with format: cloudevents (the output sets the ce- attributes)`,
    ]);
    expect(errorsOf('webhook_outputs:\n  - url: https://h.example.com/\n    format: xml\n')).toEqual([
      `${FILE}:3: webhook_outputs[0].format: must be one of json, cloudevents, got "xml"`,
    ]);
  });

  it('requires url, and max_backoff >= retry_backoff', () => {
    expect(errorsOf('webhook_outputs:\n  - workers: 2\n')).toEqual([
      `${FILE}:2: webhook_outputs[0].url: is required`,
    ]);
    expect(
      errorsOf('webhook_outputs:\n  - url: http://h/\n    retry_backoff: 2s\n    max_backoff: 1s\n'),
    ).toEqual([`${FILE}:4: webhook_outputs[0].max_backoff: must be at least retry_backoff`]);
  });

  it('rejects reserved and malformed headers', () => {
    const yaml = [
      'webhook_outputs:',
      '  - url: http://h/',
      '    headers:',
      '      Authorization: Bearer x',
      '      Content-Type: text/plain',
      '      "Bad Name": v',
      '      X-Ok: fine',
      '      x-ok: again',
      '',
    ].join('\n');
    expect(errorsOf(yaml)).toEqual([
      `${FILE}:4: webhook_outputs[0].headers.Authorization: cannot be set in headers: use basic_auth or bearer_token`,
      `${FILE}:5: webhook_outputs[0].headers.Content-Type: cannot be set in headers: the output sends application/json`,
      `${FILE}:6: webhook_outputs[0].headers.Bad Name: is not a valid HTTP header name`,
      `${FILE}:8: webhook_outputs[0].headers.x-ok: is set twice (header names ignore case)`,
    ]);
  });

  it('rejects a header value that would split the request, without showing it', () => {
    const errors = errorsOf('webhook_outputs:\n  - url: http://h/\n    headers: { X-Key: "${K}" }\n', {
      K: 'sec\r\nret',
    });
    expect(errors).toEqual([
      `${FILE}:3: webhook_outputs[0].headers.X-Key: value has characters not allowed in a header (value not shown)`,
    ]);
  });

  it('never echoes a URL (it may hold credentials) in an error', () => {
    const env = { URL: 'https://user:hunter2@[bad/?token=s3cret' };
    const errors = errorsOf('webhook_outputs:\n  - url: ${URL}\n', env);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('webhook_outputs[0].url: must be an absolute http:// or https:// URL');
    expect(errors.join()).not.toMatch(/hunter2|s3cret|user/);
  });

  it('refuses credentials given twice, and tls on an http URL', () => {
    expect(errorsOf('webhook_outputs:\n  - url: http://u:p@h/\n    bearer_token: t\n')).toEqual([
      `${FILE}:2: webhook_outputs[0].url: carries user:password@ and basic_auth or bearer_token is set too; keep one`,
    ]);
    expect(
      errorsOf('webhook_outputs:\n  - url: http://h/\n    tls: { insecure_skip_verify: true }\n'),
    ).toEqual([`${FILE}:3: webhook_outputs[0].tls: is set but url uses http; use an https URL`]);
  });

  it('two outputs to one URL need distinct names', () => {
    const errors = errorsOf('webhook_outputs:\n  - url: http://h/x?a=1\n  - url: http://h/x?a=2\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('output name "webhook:http://h/x" is already used');
  });
});

describe('request headers and redaction', () => {
  const base = webhook(
    'webhook_outputs:\n  - url: "https://bot:pa55word@h.example.com/x?token=q-secret"\n    headers: { X-Api-Key: h-secret }\n',
  );

  it('sends JSON with our User-Agent, custom headers and basic auth', () => {
    expect(requestHeaders(base, '1.2.3')).toEqual({
      'X-Api-Key': 'h-secret',
      'content-type': 'application/json',
      'user-agent': 'coroot-event-recorder/1.2.3',
      authorization: `Basic ${Buffer.from('bot:pa55word').toString('base64')}`,
    });
    const bearer = webhook('webhook_outputs:\n  - url: https://h.example.com/\n    bearer_token: tok\n');
    expect(requestHeaders(bearer, '1').authorization).toBe('Bearer tok');
  });

  it('removes every credential from text bound for a log', () => {
    const r = new Redactor(base);
    const text = `failed POST https://bot:pa55word@h.example.com/x?token=q-secret with X-Api-Key h-secret (${Buffer.from('bot:pa55word').toString('base64')})`;
    const out = r.redact(text);
    expect(out).not.toMatch(/pa55word|q-secret|h-secret|Ym90OnBhNTV3b3Jk/);
    expect(r.describe(Object.assign(new Error(text), { code: 'ECONNRESET' }))).toEqual({
      err: out,
      code: 'ECONNRESET',
    });
  });
});
