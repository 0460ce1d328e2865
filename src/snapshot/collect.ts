import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { KINDS } from './kinds/index.js';
import { byName, type SnapshotKind } from './kinds/kind.js';
import { NAMED_KINDS, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type Snapshot } from './model.js';
import { readSshHostKeys } from './ssh-host-keys.js';

export interface CollectOptions {
  /** Partner credentials (passwords, private keys, header values, URL query strings). */
  withSecrets?: boolean;
  /** The cluster's SSH host keys (private keys). */
  withHostKeys?: boolean;
}

async function readKind<Spec extends { name: string }>(db: Kysely<Database>, kind: SnapshotKind<Spec>, withSecrets: boolean): Promise<Spec[]> {
  const specs = byName(await kind.read(db));
  return withSecrets || !kind.redact ? specs : specs.map((s) => kind.redact!(s));
}

/** The configuration in the database as a snapshot, every list sorted by name. */
export async function collectSnapshot(db: Kysely<Database>, options: CollectOptions = {}): Promise<Snapshot> {
  // One read-only, repeatable-read transaction: a consistent view while nodes or operators change things
  // (SQLite ignores the level; its transactions are serializable anyway).
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const snapshot = { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION } as Snapshot;
      for (const key of NAMED_KINDS) {
        (snapshot as any)[key] = await readKind(trx, KINDS[key] as SnapshotKind<{ name: string }>, options.withSecrets ?? false);
      }
      if (options.withHostKeys) snapshot.sshHostKeys = await readSshHostKeys(trx);
      return snapshot;
    });
}
