import type { Kysely, Selectable } from 'kysely';
import { validateAccountName } from './account-store.js';
import { DUMMY_HASH, hashPassword, verifyPassword } from './password.js';
import type { AdminRole, AdminUsersTable, Database } from '../db/schema.js';

export type AdminUserRow = Selectable<AdminUsersTable>;

/** A refused admin-user change: the message says why; nothing was changed. */
export class AdminUserError extends Error {}

export const ADMIN_ROLES: readonly AdminRole[] = ['admin', 'operator'];

export function parseRole(text: string): AdminRole {
  if (!(ADMIN_ROLES as readonly string[]).includes(text)) {
    throw new AdminUserError(`invalid role "${text}": use ${ADMIN_ROLES.join(' or ')}`);
  }
  return text as AdminRole;
}

/** Minimum length of an admin password: these users can change every account. */
export const MIN_ADMIN_PASSWORD = 10;

function checkPassword(password: string): void {
  if (password.length < MIN_ADMIN_PASSWORD) {
    throw new AdminUserError(`an admin password needs at least ${MIN_ADMIN_PASSWORD} characters`);
  }
}

/** Users of the REST API and web console, in the database so every node knows them. */
export class AdminUsers {
  constructor(private readonly db: Kysely<Database>) {}

  async add(name: string, role: AdminRole, password: string): Promise<AdminUserRow> {
    validateAccountName(name);
    checkPassword(password);
    const hash = await hashPassword(password);
    const now = Date.now();
    return this.db.transaction().execute(async (trx) => {
      const existing = await trx.selectFrom('admin_users').select('id').where('name', '=', name).executeTakeFirst();
      if (existing) throw new AdminUserError(`admin user "${name}" already exists`);
      return trx
        .insertInto('admin_users')
        .values({ name, role, password_hash: hash, disabled: 0, created_at: now, updated_at: now })
        .returningAll()
        .executeTakeFirstOrThrow();
    });
  }

  /**
   * Creates or updates a user with a password hash as Ferry writes it (from a
   * configuration snapshot). A changed hash or role ends the user's sessions and tokens.
   */
  async restore(name: string, role: AdminRole, passwordHash: string, disabled: boolean): Promise<void> {
    const now = Date.now();
    const existing = await this.find(name);
    if (!existing) {
      await this.db
        .insertInto('admin_users')
        .values({ name, role, password_hash: passwordHash, disabled: disabled ? 1 : 0, created_at: now, updated_at: now })
        .execute();
      return;
    }
    await this.db
      .updateTable('admin_users')
      .set({ role, password_hash: passwordHash, disabled: disabled ? 1 : 0, updated_at: now })
      .where('id', '=', existing.id)
      .execute();
    if (existing.password_hash !== passwordHash || existing.role !== role || disabled) {
      await this.db.deleteFrom('admin_tokens').where('admin_id', '=', existing.id).execute();
    }
  }

  list(): Promise<AdminUserRow[]> {
    return this.db.selectFrom('admin_users').selectAll().orderBy('name').execute();
  }

  find(name: string): Promise<AdminUserRow | undefined> {
    return this.db.selectFrom('admin_users').selectAll().where('name', '=', name).executeTakeFirst();
  }

  async get(name: string): Promise<AdminUserRow> {
    const user = await this.find(name);
    if (!user) throw new AdminUserError(`no admin user named "${name}"`);
    return user;
  }

  async setPassword(name: string, password: string): Promise<void> {
    checkPassword(password);
    const user = await this.get(name);
    const hash = await hashPassword(password);
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('admin_users').set({ password_hash: hash, updated_at: Date.now() }).where('id', '=', user.id).execute();
      // A new password ends every session and token of the old one.
      await trx.deleteFrom('admin_tokens').where('admin_id', '=', user.id).execute();
    });
  }

  async remove(name: string): Promise<void> {
    const user = await this.get(name);
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('admin_tokens').where('admin_id', '=', user.id).execute();
      await trx.deleteFrom('admin_users').where('id', '=', user.id).execute();
    });
  }

  /** The user if name and password match an enabled admin user; the same work whether or not the name exists. */
  async verify(name: string, password: string): Promise<AdminUserRow | undefined> {
    const user = await this.find(name);
    const ok = await verifyPassword(password, user?.password_hash ?? DUMMY_HASH);
    return ok && user && !user.disabled ? user : undefined;
  }
}
