import type { Kysely, Selectable } from 'kysely';
import type { Database, MonitorsTable } from '../db/schema.js';
import { PartnerError, validateName } from '../routing/partners.js';
import { validateGlob } from '../routing/routes.js';

export type MonitorRow = Selectable<MonitorsTable>;

export interface MonitorDefinition {
  name: string;
  account: string;
  /** Folder inside the account's home that is watched (not its subfolders). */
  dir: string;
  glob: string;
  stableMs: number;
}

export class MonitorStore {
  constructor(private readonly db: Kysely<Database>) {}

  async add(m: MonitorDefinition): Promise<MonitorRow> {
    validateName('monitor', m.name);
    validateGlob(m.glob);
    if (!m.dir.startsWith('/') || m.dir.includes('\0') || m.dir.split('/').includes('..')) {
      throw new PartnerError(`invalid folder "${m.dir}": give a path inside the account's home, like /inbox`);
    }
    if (!(await this.db.selectFrom('accounts').select('id').where('name', '=', m.account).executeTakeFirst())) {
      throw new PartnerError(`no account named "${m.account}"`);
    }
    if (await this.find(m.name)) throw new PartnerError(`monitor "${m.name}" already exists`);
    return this.db
      .insertInto('monitors')
      .values({ name: m.name, account: m.account, dir: m.dir, path_glob: m.glob, stable_ms: m.stableMs, enabled: 1, created_at: Date.now() })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  find(name: string): Promise<MonitorRow | undefined> {
    return this.db.selectFrom('monitors').selectAll().where('name', '=', name).executeTakeFirst();
  }

  list(): Promise<MonitorRow[]> {
    return this.db.selectFrom('monitors').selectAll().orderBy('name').execute();
  }

  async remove(name: string): Promise<void> {
    const row = await this.find(name);
    if (!row) throw new PartnerError(`no monitor named "${name}"`);
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('monitor_files').where('monitor_id', '=', Number(row.id)).execute();
      await trx.deleteFrom('monitors').where('id', '=', Number(row.id)).execute();
    });
  }
}
