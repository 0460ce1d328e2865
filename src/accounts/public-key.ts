import crypto from 'node:crypto';
import ssh2 from '../ssh2/library.js';

const { utils } = ssh2;

export interface ParsedPublicKey {
  algorithm: string;
  /** SSH wire-format key blob, base64. */
  publicKey: string;
  /** SHA256:… as OpenSSH prints it. */
  fingerprint: string;
  comment: string;
}

export function fingerprintOf(blob: Buffer): string {
  return 'SHA256:' + crypto.createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** Parses one line of an OpenSSH public key file (`ssh-ed25519 AAAA… comment`). */
export function parsePublicKey(text: string): ParsedPublicKey {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw new Error('this is a private key; give the .pub file');
  const line = text.split(/\r?\n/).find((l) => l.trim() && !l.trim().startsWith('#'));
  if (!line) throw new Error('no public key found');
  const parsed = utils.parseKey(line.trim());
  if (parsed instanceof Error) throw new Error(`not an SSH public key: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key) throw new Error('no public key found');
  if (key.isPrivateKey()) throw new Error('this is a private key; give the .pub file');
  const blob = key.getPublicSSH();
  return {
    algorithm: key.type,
    publicKey: blob.toString('base64'),
    fingerprint: fingerprintOf(blob),
    comment: line.trim().split(/\s+/).slice(2).join(' '),
  };
}
