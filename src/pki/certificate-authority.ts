/**
 * Ferry's small PKI for the mutual TLS of edge tunnels: one CA per directory
 * (ca.crt, ca.key), and certificates it signs for nodes (clientAuth) and edges
 * (serverAuth), each as NAME.crt / NAME.key next to the CA. Keys are ECDSA P-256,
 * PEM files (keys PKCS#8, mode 0600). Nothing is ever overwritten; a refused
 * request writes nothing.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PkiError } from './errors.js';
import { exists, readText, requireDirectory, writeNewFiles } from './files.js';
import { generateKeyPair, importPrivateKey, privateKeyPem, SIGNING_ALGORITHM } from './keys.js';
import { checkCertificateName, parseRole, subjectAltNames, type Role, type SubjectAltName } from './names.js';
import { x509 } from './x509-library.js';

export const CA_YEARS = 10;
export const LEAF_DAYS = 730;
/** Certificates start this long before they are made, for clocks a little behind. */
const BACKDATE_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface CaFiles {
  dir: string;
  certificate: string;
  key: string;
}

export interface IssuedFiles {
  role: Role;
  name: string;
  certificate: string;
  key: string;
  ca: string;
  hosts: SubjectAltName[];
  notAfter: Date;
}

export interface IssueOptions {
  /** subjectAltName entries: DNS names or IP addresses (default: the name). */
  hosts?: string[];
  /** Validity in days (default LEAF_DAYS). */
  days?: number;
  now?: Date;
}

export function caPaths(dir: string): CaFiles {
  return { dir, certificate: path.join(dir, 'ca.crt'), key: path.join(dir, 'ca.key') };
}

export function serialNumber(): string {
  const bytes = crypto.randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40; // positive, 16 bytes
  return bytes.toString('hex');
}

/** Creates a CA in dir (made if missing): ca.key (0600) and ca.crt. Refuses if dir already holds either. */
export async function initCa(dir: string, options: { now?: Date } = {}): Promise<CaFiles> {
  const files = caPaths(dir);
  if (!exists(dir)) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new PkiError(`cannot create ${dir}: ${(err as Error).message}`);
    }
  }
  requireDirectory(dir);
  const present = [files.certificate, files.key].filter(exists);
  if (present.length > 0) {
    throw new PkiError(`${dir} already holds a CA (${present.map((p) => path.basename(p)).join(', ')}); not overwriting it`);
  }

  const now = options.now ?? new Date();
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_YEARS);
  const keys = await generateKeyPair();
  const keyId = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    // Each CA its own name, so certificates of two CAs are never mistaken for each other's.
    name: `CN=Ferry CA ${keyId.keyId.slice(0, 16)}`,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      keyId,
    ],
  });
  writeNewFiles([
    { path: files.key, content: await privateKeyPem(keys.privateKey), mode: 0o600 },
    { path: files.certificate, content: certificate.toString('pem') + '\n', mode: 0o644 },
  ]);
  return files;
}

interface LoadedCa {
  certificate: x509.X509Certificate;
  signingKey: CryptoKey;
}

async function loadCa(dir: string): Promise<LoadedCa> {
  requireDirectory(dir);
  const files = caPaths(dir);
  const missing = [files.certificate, files.key].filter((p) => !exists(p));
  if (missing.length > 0) {
    throw new PkiError(`${dir} holds no CA (${missing.map((p) => path.basename(p)).join(' and ')} missing); run ferry pki init ${dir} first`);
  }
  const certText = readText(files.certificate);
  const keyText = readText(files.key);
  let certificate: x509.X509Certificate;
  try {
    certificate = new x509.X509Certificate(certText);
  } catch (err) {
    throw new PkiError(`${files.certificate} is not a PEM certificate: ${(err as Error).message}`);
  }
  let signingKey: CryptoKey;
  let publicKey: Buffer;
  try {
    signingKey = await importPrivateKey(keyText);
    publicKey = crypto.createPublicKey(crypto.createPrivateKey(keyText)).export({ type: 'spki', format: 'der' });
  } catch (err) {
    throw new PkiError(`${files.key} is not a P-256 PKCS#8 PEM private key: ${(err as Error).message}`);
  }
  if (!publicKey.equals(Buffer.from(certificate.publicKey.rawData))) {
    throw new PkiError(`${files.key} is not the key of ${files.certificate}`);
  }
  const basic = certificate.getExtension(x509.BasicConstraintsExtension);
  if (!basic?.ca) throw new PkiError(`${files.certificate} is not a CA certificate`);
  return { certificate, signingKey };
}

/**
 * Issues a certificate for a node (clientAuth) or an edge (serverAuth) named
 * `name`, signed by the CA in dir: NAME.key (0600) and NAME.crt in dir.
 */
export async function issue(dir: string, roleText: string, nameText: string, options: IssueOptions = {}): Promise<IssuedFiles> {
  const role = parseRole(roleText);
  const name = checkCertificateName(nameText);
  const hosts = subjectAltNames(options.hosts && options.hosts.length > 0 ? options.hosts : [name]);
  const days = options.days ?? LEAF_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new PkiError(`--days must be a whole number of days from 1 to 36500 (got ${days})`);

  const ca = await loadCa(dir);
  const files = { certificate: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  for (const file of [files.certificate, files.key]) {
    if (exists(file)) throw new PkiError(`${file} already exists; not overwriting it (remove it to issue a new one)`);
  }
  const now = options.now ?? new Date();
  const notAfter = new Date(now.getTime() + days * DAY_MS);
  if (ca.certificate.notAfter.getTime() < now.getTime()) {
    throw new PkiError(`the CA in ${dir} expired on ${ca.certificate.notAfter.toISOString()}`);
  }
  if (notAfter.getTime() > ca.certificate.notAfter.getTime()) {
    throw new PkiError(`--days ${days} would outlast the CA, which expires on ${ca.certificate.notAfter.toISOString()}`);
  }

  const keys = await generateKeyPair();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${name}`,
    issuer: ca.certificate.subjectName,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([role === 'edge' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(hosts),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey),
    ],
  });
  if (!(await certificate.verify({ publicKey: ca.certificate.publicKey, signatureOnly: true }))) {
    throw new PkiError('the new certificate does not verify against the CA (nothing written)');
  }
  writeNewFiles([
    { path: files.key, content: await privateKeyPem(keys.privateKey), mode: 0o600 },
    { path: files.certificate, content: certificate.toString('pem') + '\n', mode: 0o644 },
  ]);
  return { role, name, ...files, ca: caPaths(dir).certificate, hosts, notAfter };
}
