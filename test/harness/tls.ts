import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface TestCertificate {
  keyFile: string;
  certFile: string;
  key: Buffer;
  /** PEM, as a partner's pinned certificate is given. */
  cert: string;
}

/**
 * A self-signed P-256 certificate for an HTTPS test partner on 127.0.0.1
 * (CN partner.test, IP SAN 127.0.0.1), made by openssl as an operator would:
 * `${prefix}key.pem` and `${prefix}cert.pem` in `dir`.
 */
export function partnerCertificate(dir: string, prefix = ''): TestCertificate {
  const keyFile = path.join(dir, `${prefix}key.pem`);
  const certFile = path.join(dir, `${prefix}cert.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=partner.test',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'pipe' },
  );
  return { keyFile, certFile, key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile, 'utf8') };
}
