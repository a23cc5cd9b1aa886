import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Extensions of a server certificate for loopback. */
export const SERVER_EXT =
  'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n';
/** Extensions of a client certificate (mutual TLS). */
export const CLIENT_EXT = 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n';

/** A self-signed CA made with openssl now: `<dir>/<name>.pem` and `<dir>/<name>.key`. */
export async function makeCa(dir: string, name = 'ca', cn = `${name} test CA`): Promise<void> {
  await writeFile(
    join(dir, `${name}.cnf`),
    `[req]\ndistinguished_name=dn\nprompt=no\nx509_extensions=v3\n[dn]\nCN=${cn}\n[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n`,
  );
  await run(
    'openssl',
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-config',
      `${name}.cnf`,
    ],
    { cwd: dir },
  );
}

/**
 * A certificate signed by the CA `<dir>/<ca>.pem` with the given openssl extensions:
 * `<dir>/<name>.pem` and `<dir>/<name>.key`. A second call with the same name replaces both.
 */
export async function makeLeaf(dir: string, name: string, ext: string, ca = 'ca'): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), ext);
  await run(
    'openssl',
    ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`],
    {
      cwd: dir,
    },
  );
  await run(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ],
    { cwd: dir },
  );
}

/**
 * A CA (`ca.pem`), a server certificate for 127.0.0.1 / localhost (`server.pem`, `server.key`)
 * and a client certificate (`client.pem`, `client.key`), made with openssl now in `dir`.
 */
export async function makeCertificates(dir: string): Promise<void> {
  await makeCa(dir, 'ca', 'webhook test CA');
  await makeLeaf(dir, 'server', SERVER_EXT);
  await makeLeaf(dir, 'client', CLIENT_EXT);
}
