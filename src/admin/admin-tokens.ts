import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AdminRole, AdminTokensTable, Database } from '../db/schema.js';

export interface Principal {
  adminId: number;
  name: string;
  role: AdminRole;
  tokenId: number;
  kind: AdminTokensTable['kind'];
}

/** Tokens start with this, so a leaked one is recognisable (secret scanners, logs). */
const PREFIX = 'ferry_';

function digest(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

/**
 * Login sessions and API tokens. Only a token's SHA-256 is stored, in the
 * database every node reads, so a token issued by one node is valid on all of
 * them and a database leak does not hand out live credentials.
 */
export class AdminTokens {
  constructor(private readonly db: Kysely<Database>) {}

  async issue(adminId: number, kind: AdminTokensTable['kind'], ttlMs: number, label = ''): Promise<{ token: string; expiresAt: number }> {
    const token = PREFIX + crypto.randomBytes(32).toString('base64url');
    const now = Date.now();
    const expiresAt = now + ttlMs;
    await this.db
      .insertInto('admin_tokens')
      .values({ token_hash: digest(token), admin_id: adminId, kind, label, created_at: now, expires_at: expiresAt, last_used_at: null })
      .execute();
    return { token, expiresAt };
  }

  /** The principal a live token belongs to (its user enabled), else undefined. */
  async check(token: string): Promise<Principal | undefined> {
    if (!token.startsWith(PREFIX) || token.length > 200) return undefined;
    const now = Date.now();
    const row = await this.db
      .selectFrom('admin_tokens as t')
      .innerJoin('admin_users as u', 'u.id', 't.admin_id')
      .select(['t.id as tokenId', 't.kind', 't.expires_at', 't.last_used_at', 'u.id as adminId', 'u.name', 'u.role', 'u.disabled'])
      .where('t.token_hash', '=', digest(token))
      .executeTakeFirst();
    if (!row || row.expires_at <= now || row.disabled) return undefined;
    // last_used_at is for operators reviewing tokens; a minute's precision spares a write per request.
    if (row.last_used_at === null || now - row.last_used_at > 60_000) {
      await this.db.updateTable('admin_tokens').set({ last_used_at: now }).where('id', '=', row.tokenId).execute();
    }
    return { adminId: Number(row.adminId), name: row.name, role: row.role, tokenId: Number(row.tokenId), kind: row.kind };
  }

  /** Live tokens, newest first: of one admin user, or of all. Never the tokens themselves. */
  async list(adminId?: number) {
    let q = this.db
      .selectFrom('admin_tokens as t')
      .innerJoin('admin_users as u', 'u.id', 't.admin_id')
      .select(['t.id', 't.kind', 't.label', 't.created_at', 't.expires_at', 't.last_used_at', 't.admin_id', 'u.name'])
      .where('t.expires_at', '>', Date.now());
    if (adminId !== undefined) q = q.where('t.admin_id', '=', adminId);
    return q.orderBy('t.id', 'desc').execute();
  }

  /** Revokes a token by id (only one of `adminId`'s when given); whether there was one. */
  async revokeById(tokenId: number, adminId?: number): Promise<boolean> {
    let q = this.db.deleteFrom('admin_tokens').where('id', '=', tokenId);
    if (adminId !== undefined) q = q.where('admin_id', '=', adminId);
    return Number((await q.executeTakeFirst()).numDeletedRows) > 0;
  }

  async revoke(tokenId: number): Promise<void> {
    await this.db.deleteFrom('admin_tokens').where('id', '=', tokenId).execute();
  }

  /** Deletes expired tokens; returns how many. */
  async purgeExpired(now = Date.now()): Promise<number> {
    const result = await this.db.deleteFrom('admin_tokens').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows ?? 0);
  }
}
