import fs from 'node:fs';
import path from 'node:path';
import { isDnsName } from '../pki/names.js';

export interface AdminTlsFiles {
  cert: string;
  key: string;
  /** Whether Ferry made them (a self-signed certificate) rather than the operator. */
  generated: boolean;
}

/** Where a node keeps the self-signed certificate it makes for its admin port. */
export function generatedTlsPaths(dataDir: string): { cert: string; key: string } {
  return { cert: path.join(dataDir, 'admin-tls', 'cert.pem'), key: path.join(dataDir, 'admin-tls', 'key.pem') };
}

/**
 * The admin port's certificate and key: the configured files, or a self-signed
 * certificate made once on first start and kept in data.dir (so a browser's
 * exception for it lasts across restarts).
 */
export async function adminTls(options: {
  cert?: string;
  key?: string;
  dataDir: string;
  nodeName: string;
}): Promise<{ cert: string; key: string; files: AdminTlsFiles }> {
  if (options.cert || options.key) {
    if (!options.cert || !options.key) throw new Error('admin.tls_cert and admin.tls_key go together: set both or neither');
    return {
      cert: fs.readFileSync(options.cert, 'utf8'),
      key: fs.readFileSync(options.key, 'utf8'),
      files: { cert: options.cert, key: options.key, generated: false },
    };
  }
  const files = generatedTlsPaths(options.dataDir);
  if (!fs.existsSync(files.cert) || !fs.existsSync(files.key)) {
    // Loaded only here: the X.509 library is large and most starts find the files.
    const { selfSignedServerCertificate } = await import('../pki/self-signed.js');
    const hosts = ['localhost', '127.0.0.1', '::1', ...(isDnsName(options.nodeName) ? [options.nodeName] : [])];
    const made = await selfSignedServerCertificate(isDnsName(options.nodeName) ? options.nodeName : 'ferry-admin', hosts, 3650);
    fs.mkdirSync(path.dirname(files.cert), { recursive: true, mode: 0o700 });
    fs.writeFileSync(files.key, made.key, { mode: 0o600 });
    fs.writeFileSync(files.cert, made.cert, { mode: 0o644 });
  }
  return { cert: fs.readFileSync(files.cert, 'utf8'), key: fs.readFileSync(files.key, 'utf8'), files: { ...files, generated: true } };
}
