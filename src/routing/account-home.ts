import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { PermanentJobError } from '../queue/queue-runner.js';
import { accountHome, type Home } from '../storage/home.js';

/** The home of an account named in queued work; the work fails for good if the account is gone. */
export async function homeOfAccount(db: Kysely<Database> | Transaction<Database>, storageDir: string, account: string): Promise<Home> {
  const row = await db.selectFrom('accounts').select(['id', 'home']).where('name', '=', account).executeTakeFirst();
  if (!row) throw new PermanentJobError(`account "${account}" no longer exists`);
  return accountHome(storageDir, { id: Number(row.id), home: row.home });
}
