import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (
  password: crypto.BinaryLike,
  salt: crypto.BinaryLike,
  keylen: number,
  options: crypto.ScryptOptions,
) => Promise<Buffer>;

// OWASP's recommended scrypt cost: N=2^17, r=8, p=1 (128 MiB, ~0.3 s) is too slow
// for an SFTP login storm on 2 cores; N=2^15 keeps ~50 ms and 32 MiB per check.
const COST = { N: 1 << 15, r: 8, p: 1 };
const KEY_LENGTH = 32;

/** Hashes a password as `scrypt$N$r$p$salt$hash` (base64 parts). */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const hash = await scrypt(password, salt, KEY_LENGTH, { ...COST, maxmem: 128 * COST.N * COST.r * 2 });
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** Whether text has the shape hashPassword writes, so a login can ever match it. */
export function isPasswordHash(text: string): boolean {
  const parts = text.split('$');
  return (
    parts.length === 6 &&
    parts[0] === 'scrypt' &&
    parts.slice(1, 4).every((n) => /^[1-9]\d{0,9}$/.test(n)) &&
    parts.slice(4).every((b) => /^[A-Za-z0-9+/]+={0,2}$/.test(b))
  );
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  const actual = await scrypt(password, salt, expected.length, { N, r, p, maxmem: 128 * N * r * 2 });
  return crypto.timingSafeEqual(actual, expected);
}

/** A password hash that never matches, verified so unknown accounts cost as much as known ones. */
export const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
