import { AdminUsers, parseRole } from '../../accounts/admin-users.js';
import { validateAccountName } from '../../accounts/account-store.js';
import { isPasswordHash } from '../../accounts/password.js';
import type { AdminUserSpec } from '../model.js';
import { FieldError, type SnapshotKind } from './kind.js';

/** Users of the REST API and console, with their password hashes; sessions and tokens are not configuration. */
export const adminUserKind: SnapshotKind<AdminUserSpec> = {
  key: 'adminUsers',
  noun: 'admin user',

  read: async (db) => (await new AdminUsers(db).list()).map((u) => ({ name: u.name, role: u.role, enabled: !u.disabled, passwordHash: u.password_hash })),

  normalize(spec) {
    validateAccountName(spec.name);
    try {
      parseRole(spec.role);
    } catch (err) {
      throw new FieldError(['role'], (err as Error).message);
    }
    if (!isPasswordHash(spec.passwordHash)) throw new FieldError(['passwordHash'], 'invalid password hash: expected scrypt$N$r$p$salt$hash as Ferry writes it');
    return spec;
  },

  create: (db, spec) => new AdminUsers(db).restore(spec.name, spec.role, spec.passwordHash, !spec.enabled),
  update: (db, spec) => new AdminUsers(db).restore(spec.name, spec.role, spec.passwordHash, !spec.enabled),
  remove: (db, name) => new AdminUsers(db).remove(name),
};
