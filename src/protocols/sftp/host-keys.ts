import type { Kysely } from 'kysely';
import ssh2 from '../../ssh2/library.js';

const { utils } = ssh2;
import type { Database } from '../../db/schema.js';

const ALGORITHMS = [
  { name: 'ssh-ed25519', generate: () => utils.generateKeyPairSync('ed25519') },
  { name: 'ssh-rsa', generate: () => utils.generateKeyPairSync('rsa', { bits: 3072 }) },
] as const;

export const HOST_KEY_ALGORITHMS: readonly string[] = ALGORITHMS.map((a) => a.name);

/** How many keys to generate before giving up on one that ssh2 can read back. */
const GENERATE_ATTEMPTS = 20;

function parses(privateKey: string): boolean {
  const parsed = utils.parseKey(privateKey);
  return !(parsed instanceof Error) && !Array.isArray(parsed);
}

/**
 * A new key pair that ssh2 can read back. ssh2's generator writes about one
 * ed25519 key in 256 with its public half cut short (a leading zero byte dropped:
 * ssh2 issue #1513), which then fails to load as "Malformed OpenSSH private key".
 */
function generateReadable(algorithm: (typeof ALGORITHMS)[number]): string {
  for (let attempt = 0; attempt < GENERATE_ATTEMPTS; attempt++) {
    const pair = algorithm.generate();
    if (parses(pair.private)) return pair.private;
  }
  throw new Error(`could not generate a readable ${algorithm.name} host key`);
}

/**
 * The cluster's SSH host keys: generated once, kept in the database, so every
 * node presents the same keys. Nodes starting at once race harmlessly: the first
 * insert wins and everyone reads the winner. A stored key that cannot be read
 * (one written by the generator bug above) was never presented to any client, so
 * it is replaced, once, by whichever node gets there first.
 */
export async function loadHostKeys(db: Kysely<Database>): Promise<string[]> {
  const keys: string[] = [];
  for (const algorithm of ALGORITHMS) {
    const read = () => db.selectFrom('host_keys').select('private_key').where('algorithm', '=', algorithm.name).executeTakeFirst();
    let row = await read();
    if (!row) {
      await db
        .insertInto('host_keys')
        .values({ algorithm: algorithm.name, private_key: generateReadable(algorithm), created_at: Date.now() })
        .onConflict((oc) => oc.column('algorithm').doNothing())
        .execute();
      row = await read();
    } else if (!parses(row.private_key)) {
      await db
        .updateTable('host_keys')
        .set({ private_key: generateReadable(algorithm), created_at: Date.now() })
        .where('algorithm', '=', algorithm.name)
        .where('private_key', '=', row.private_key)
        .execute();
      row = await read();
    }
    if (!row || !parses(row.private_key)) throw new Error(`the ${algorithm.name} host key in the database cannot be read`);
    keys.push(row.private_key);
  }
  return keys;
}
