import type { Kysely } from 'kysely';
import ssh2 from 'ssh2';

const { utils } = ssh2;
import type { Database } from '../../db/schema.js';

const ALGORITHMS = [
  { name: 'ssh-ed25519', generate: () => utils.generateKeyPairSync('ed25519') },
  { name: 'ssh-rsa', generate: () => utils.generateKeyPairSync('rsa', { bits: 3072 }) },
] as const;

export const HOST_KEY_ALGORITHMS: readonly string[] = ALGORITHMS.map((a) => a.name);

/**
 * The cluster's SSH host keys: generated once, kept in the database, so every
 * node presents the same keys. Nodes starting at once race harmlessly: the first
 * insert wins and everyone reads the winner.
 */
export async function loadHostKeys(db: Kysely<Database>): Promise<string[]> {
  const keys: string[] = [];
  for (const algorithm of ALGORITHMS) {
    let row = await db.selectFrom('host_keys').select('private_key').where('algorithm', '=', algorithm.name).executeTakeFirst();
    if (!row) {
      const pair = algorithm.generate();
      await db
        .insertInto('host_keys')
        .values({ algorithm: algorithm.name, private_key: pair.private, created_at: Date.now() })
        .onConflict((oc) => oc.column('algorithm').doNothing())
        .execute();
      row = await db.selectFrom('host_keys').select('private_key').where('algorithm', '=', algorithm.name).executeTakeFirstOrThrow();
    }
    keys.push(row.private_key);
  }
  return keys;
}
