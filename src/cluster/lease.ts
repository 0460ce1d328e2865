import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import { dbNow } from '../db/clock.js';
import type { Dialect } from '../db/connect.js';
import type { Database } from '../db/schema.js';

const NAME = 'primary';

/**
 * The primary's lease: one row with a holder, an expiry on the database clock and
 * a fencing token that grows with every acquisition. Singleton writes carry
 * fence(token), so the database itself refuses a write from a primary that has
 * lost the lease, however long it was paused.
 */
export class PrimaryLease {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly nodeId: string,
    private readonly ttlMs: number,
  ) {}

  /**
   * Takes the lease if it is free or expired: returns the new token (retaken: it
   * was this node's own, run out), or, when someone else holds it, how long
   * until it expires (so a standby can try again right then instead of at its
   * next heartbeat). With fromOthers false an expired lease of another node is
   * left alone: only a free one or this node's own is taken.
   */
  async tryAcquire(fromOthers = true): Promise<{ token: number; previousHolder: string | null; retaken: boolean } | { expiresInMs: number }> {
    const now = dbNow(this.dialect);
    const before = await this.db
      .selectFrom('leases')
      .select(['holder', 'token', sql<number>`expires_at - ${now}`.as('remaining')])
      .where('name', '=', NAME)
      .executeTakeFirst();
    const row = await this.db
      .updateTable('leases')
      .set({
        holder: this.nodeId,
        token: sql`token + 1`,
        expires_at: sql`${now} + ${this.ttlMs}`,
        acquired_at: now,
      })
      .where('name', '=', NAME)
      .where((eb) =>
        eb.or([eb('holder', 'is', null), fromOthers ? eb('expires_at', '<=', now) : eb.and([eb('expires_at', '<=', now), eb('holder', '=', this.nodeId)])]),
      )
      .returning('token')
      .executeTakeFirst();
    if (!row) return { expiresInMs: Math.max(0, Number(before?.remaining ?? 0)) };
    const retaken = before?.holder === this.nodeId;
    return { token: Number(row.token), previousHolder: retaken ? null : (before?.holder ?? null), retaken };
  }

  /** Extends the lease held with `token`; false if it expired or someone else holds it. */
  async renew(token: number): Promise<boolean> {
    const now = dbNow(this.dialect);
    const result = await this.db
      .updateTable('leases')
      .set({ expires_at: sql`${now} + ${this.ttlMs}` })
      .where('name', '=', NAME)
      .where('holder', '=', this.nodeId)
      .where('token', '=', token)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Gives the lease up at once (drain, shutdown) so a standby need not wait for expiry. */
  async release(token: number): Promise<void> {
    await this.db
      .updateTable('leases')
      .set({ holder: null, expires_at: 0 })
      .where('name', '=', NAME)
      .where('holder', '=', this.nodeId)
      .where('token', '=', token)
      .execute();
  }

  /** The WHERE condition that makes a singleton write count only while `token` is current. */
  fence(token: number): Expression<SqlBool> {
    return sql<SqlBool>`exists (select 1 from leases where name = ${NAME} and holder = ${this.nodeId} and token = ${token} and expires_at > ${dbNow(this.dialect)})`;
  }
}

export async function currentLease(db: Kysely<Database>, dialect: Dialect) {
  return db
    .selectFrom('leases')
    .select(['holder', 'token', 'expires_at', 'acquired_at', dbNow(dialect).as('now')])
    .where('name', '=', NAME)
    .executeTakeFirst();
}
