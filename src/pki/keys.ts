import { webcrypto } from 'node:crypto';

/** Every key Ferry's PKI makes: ECDSA on P-256, signatures with SHA-256. */
export const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

export function generateKeyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

function pem(label: string, der: ArrayBuffer | Uint8Array): string {
  const base64 = Buffer.from(der as ArrayBuffer).toString('base64');
  return `-----BEGIN ${label}-----\n${base64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

/** The private key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), what node:tls takes as `key`. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

/** Reads a PKCS#8 PEM P-256 private key back as a signing key; throws if it is anything else. */
export async function importPrivateKey(text: string): Promise<CryptoKey> {
  const match = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(text);
  if (!match) throw new Error('not a PKCS#8 PEM private key');
  return webcrypto.subtle.importKey('pkcs8', Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64'), KEY_ALGORITHM, false, ['sign']);
}
