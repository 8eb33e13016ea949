import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway CA and a server certificate it signed for 127.0.0.1 (subjectAltName IP:127.0.0.1),
 * made with the `openssl` CLI in a temp dir for one test file, plus a second CA that signed
 * nothing (to check a wrong trust anchor is refused). Valid for a day; `remove()` in `after`.
 */
export interface TestCertificates {
  /** PEM of the CA that signed the server certificate. */
  ca: string;
  /** PEM of an unrelated CA. */
  otherCa: string;
  /** Files for the server (coturn's --cert / --pkey). */
  certFile: string;
  keyFile: string;
  remove(): void;
}

export function opensslSkipReason(suite: string): string | false {
  if (spawnSync('sh', ['-c', 'command -v openssl']).status === 0) return false;
  const reason = 'openssl not installed (apt-get install openssl)';
  process.stderr.write(`\n*** ${suite} SKIPPED: ${reason} ***\n\n`);
  return reason;
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'ntcp-tls-'));
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const selfSignedCa = (name: string): void => openssl('req', '-x509', ...KEY, '-keyout', file(`${name}.key`), '-out', file(`${name}.pem`),
    '-days', '1', '-subj', `/CN=ntcp test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  try {
    selfSignedCa('ca');
    selfSignedCa('other-ca');
    openssl('req', ...KEY, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1');
    writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-days', '1', '-extfile', file('server.ext'), '-out', file('server.pem'));
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    ca: readFileSync(file('ca.pem'), 'utf8'),
    otherCa: readFileSync(file('other-ca.pem'), 'utf8'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
