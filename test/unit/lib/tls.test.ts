import { describe, expect, it } from 'vitest';
import { tlsClientOptions } from '../../../src/lib/tls.js';

describe('tlsClientOptions', () => {
  it('passes the configured material and verifies unless told not to', () => {
    expect(
      tlsClientOptions({
        ca: 'CA',
        cert: 'CERT',
        key: 'KEY',
        serverName: 'k.example',
        insecureSkipVerify: false,
      }),
    ).toEqual({ ca: 'CA', cert: 'CERT', key: 'KEY', servername: 'k.example', rejectUnauthorized: true });
  });

  it('leaves unset fields to Node (system CAs, the host as SNI)', () => {
    expect(
      tlsClientOptions({ ca: null, cert: null, key: null, serverName: null, insecureSkipVerify: true }),
    ).toEqual({ rejectUnauthorized: false });
  });
});
