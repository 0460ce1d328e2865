import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface HousekeepingResult {
  abortedTransfers: number;
  removedPartials: number;
}

/**
 * Marks in-progress transfers of nodes whose heartbeat stopped as aborted (their
 * process died before it could record an end): one statement, safe on any node.
 */
export async function abortTransfersOfSilentNodes(db: Kysely<Database>, deadBefore: number): Promise<number> {
  const result = await db
    .updateTable('transfers')
    .set({ status: 'aborted', error: 'node stopped heartbeating during the transfer', ended_at: Date.now() })
    .where('status', '=', 'in-progress')
    .where('node_id', 'in', db.selectFrom('nodes').select('id').where('heartbeat_at', '<', deadBefore))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Deletes partial uploads untouched for longer than maxAgeMs. */
export function removeStalePartials(storageDir: string, maxAgeMs: number): number {
  const root = path.join(storageDir, '.partial');
  const cutoff = Date.now() - maxAgeMs;
  let removed = 0;
  let accounts: string[];
  try {
    accounts = fs.readdirSync(root);
  } catch {
    return 0;
  }
  for (const account of accounts) {
    const dir = path.join(root, account);
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const file = path.join(dir, name);
      try {
        if (fs.statSync(file).mtimeMs < cutoff) {
          fs.unlinkSync(file);
          removed++;
        }
      } catch {}
    }
  }
  return removed;
}
