import type { Kysely, Selectable } from 'kysely';
import { inTransaction } from '../db/transaction.js';
import type { Database, MonitorsTable } from '../db/schema.js';
import { PartnerError, validateName } from '../routing/partners.js';
import { requireAccount, validateFolder, validateGlob } from '../routing/routes.js';

export type MonitorRow = Selectable<MonitorsTable>;

export interface MonitorDefinition {
  name: string;
  account: string;
  /** Folder inside the account's home that is watched (not its subfolders). */
  dir: string;
  glob: string;
  stableMs: number;
  /** Defaults to true. */
  enabled?: boolean;
}

/** What can be checked of a monitor without the database. */
export function validateMonitor(m: MonitorDefinition): void {
  validateName('monitor', m.name);
  validateGlob(m.glob);
  validateFolder(m.dir);
  if (!Number.isSafeInteger(m.stableMs) || m.stableMs < 0) throw new PartnerError(`invalid stable time ${m.stableMs} ms`);
}

/** Validates a monitor and that its account exists. */
async function checkMonitor(db: Kysely<Database>, m: MonitorDefinition): Promise<void> {
  validateMonitor(m);
  await requireAccount(db, m.account);
}

function monitorColumns(m: MonitorDefinition) {
  return { account: m.account, dir: m.dir, path_glob: m.glob, stable_ms: m.stableMs, enabled: m.enabled === false ? 0 : 1 };
}

export class MonitorStore {
  constructor(private readonly db: Kysely<Database>) {}

  async add(m: MonitorDefinition): Promise<MonitorRow> {
    await checkMonitor(this.db, m);
    if (await this.find(m.name)) throw new PartnerError(`monitor "${m.name}" already exists`);
    return this.db
      .insertInto('monitors')
      .values({ name: m.name, ...monitorColumns(m), created_at: Date.now() })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Replaces the definition of an existing monitor; the file versions it has seen stay. */
  async update(m: MonitorDefinition): Promise<void> {
    await checkMonitor(this.db, m);
    const result = await this.db.updateTable('monitors').set(monitorColumns(m)).where('name', '=', m.name).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new PartnerError(`no monitor named "${m.name}"`);
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
    await inTransaction(this.db, async (trx) => {
      await trx.deleteFrom('monitor_files').where('monitor_id', '=', Number(row.id)).execute();
      await trx.deleteFrom('monitors').where('id', '=', Number(row.id)).execute();
    });
  }
}
