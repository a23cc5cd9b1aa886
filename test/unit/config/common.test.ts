import { describe, expect, it } from 'vitest';
import { errorsOf, CONFIG_FILE as FILE } from '../../helpers/config.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const FILES = { '/etc/cer/client.pem': PEM, '/etc/cer/client.key': PEM };
const webhookTls = (tls: string): string =>
  `webhook_outputs:\n  - url: https://hooks.example/in\n    tls:\n${tls}`;

describe('readTls: client certificate and key', () => {
  it('a certificate without its key is an error', () => {
    expect(errorsOf(webhookTls('      cert_file: client.pem\n'), {}, FILES)).toEqual([
      `${FILE}:4: webhook_outputs[0].tls.key_file: cert_file and key_file go together`,
    ]);
  });

  it('a key without its certificate is an error', () => {
    expect(errorsOf(webhookTls('      key_file: client.key\n'), {}, FILES)).toEqual([
      `${FILE}:4: webhook_outputs[0].tls.cert_file: cert_file and key_file go together`,
    ]);
  });

  it('an error elsewhere in the file does not hide the mismatch', () => {
    const errors = errorsOf(`queue_size: five\n${webhookTls('      cert_file: client.pem\n')}`, {}, FILES);
    expect(errors.filter((e) => e.startsWith(`${FILE}:1: queue_size: `))).toHaveLength(1);
    expect(errors).toContain(
      `${FILE}:5: webhook_outputs[0].tls.key_file: cert_file and key_file go together`,
    );
  });

  it('an unreadable certificate is reported once, not also as a mismatch', () => {
    expect(
      errorsOf(webhookTls('      cert_file: missing.pem\n      key_file: client.key\n'), {}, FILES),
    ).toEqual([`${FILE}:4: webhook_outputs[0].tls.cert_file: cannot read /etc/cer/missing.pem: ENOENT`]);
  });
});
