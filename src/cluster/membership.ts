import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** This node's row in the nodes table: registered at start, one UPDATE per heartbeat. */
export class Membership {
  constructor(
    private readonly db: Kysely<Database>,
    readonly nodeId: string,
    private readonly name: string,
    private readonly version: string,
  ) {}

  async register(): Promise<void> {
    const now = Date.now();
    await this.db
      .insertInto('nodes')
      .values({ id: this.nodeId, name: this.name, version: this.version, started_at: now, heartbeat_at: now, stopped_at: null })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({ name: this.name, version: this.version, started_at: now, heartbeat_at: now, stopped_at: null }),
      )
      .execute();
  }

  async heartbeat(): Promise<void> {
    await this.db.updateTable('nodes').set({ heartbeat_at: Date.now() }).where('id', '=', this.nodeId).execute();
  }

  async markStopped(): Promise<void> {
    await this.db.updateTable('nodes').set({ stopped_at: Date.now() }).where('id', '=', this.nodeId).execute();
  }
}
