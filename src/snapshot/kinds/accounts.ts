import { isDeepStrictEqual } from 'node:util';
import { AccountStore, validateAccountName, validateHome, type AccountChange } from '../../accounts/account-store.js';
import { isPasswordHash } from '../../accounts/password.js';
import { parsePublicKey, type ParsedPublicKey } from '../../accounts/public-key.js';
import type { AccountSpec } from '../model.js';
import { FieldError, type SnapshotKind } from './kind.js';

function keyLine(key: Pick<ParsedPublicKey, 'algorithm' | 'publicKey' | 'comment'>): string {
  return `${key.algorithm} ${key.publicKey}${key.comment ? ` ${key.comment}` : ''}`;
}

function parseKeys(lines: string[]): ParsedPublicKey[] {
  const seen = new Set<string>();
  return lines.map((line, i) => {
    let key: ParsedPublicKey;
    try {
      key = parsePublicKey(line);
    } catch (err) {
      throw new FieldError(['keys', i], (err as Error).message);
    }
    if (seen.has(key.publicKey)) throw new FieldError(['keys', i], `key ${key.fingerprint} is listed twice`);
    seen.add(key.publicKey);
    return key;
  });
}

/** Accounts with their password hash (never a password) and public keys; lockout state is not configuration. */
export const accountKind: SnapshotKind<AccountSpec> = {
  key: 'accounts',
  noun: 'account',

  async read(db) {
    const accounts = await db.selectFrom('accounts').selectAll().execute();
    const keys = await db.selectFrom('account_keys').selectAll().execute();
    return accounts.map((a) => ({
      name: a.name,
      home: a.home,
      enabled: !a.disabled,
      passwordHash: a.password_hash,
      keys: keys
        .filter((k) => Number(k.account_id) === Number(a.id))
        .map((k) => keyLine({ algorithm: k.algorithm, publicKey: k.public_key, comment: k.comment }))
        .sort(),
    }));
  },

  normalize(spec) {
    validateAccountName(spec.name);
    let home: string;
    try {
      home = validateHome(spec.home);
    } catch (err) {
      throw new FieldError(['home'], (err as Error).message);
    }
    if (spec.passwordHash !== null && !isPasswordHash(spec.passwordHash)) {
      throw new FieldError(['passwordHash'], 'invalid password hash: expected scrypt$N$r$p$salt$hash as Ferry writes it');
    }
    const keys = parseKeys(spec.keys);
    if (spec.passwordHash === null && keys.length === 0) throw new Error('an account needs a password hash or at least one key');
    return { ...spec, home, keys: keys.map(keyLine).sort() };
  },

  async create(db, spec) {
    await new AccountStore(db).add({
      name: spec.name,
      passwordHash: spec.passwordHash ?? undefined,
      keys: spec.keys.map((k) => parsePublicKey(k)),
      home: spec.home,
      disabled: !spec.enabled,
    });
  },

  async update(db, spec, current) {
    const change: AccountChange = {};
    if (spec.home !== current.home) change.home = spec.home;
    if (spec.passwordHash !== current.passwordHash) change.passwordHash = spec.passwordHash;
    if (spec.enabled !== current.enabled) change.disabled = !spec.enabled;
    if (!isDeepStrictEqual(spec.keys, current.keys)) change.keys = spec.keys.map((k) => parsePublicKey(k));
    await new AccountStore(db).update(spec.name, change);
  },

  remove: (db, name) => new AccountStore(db).remove(name),
};
