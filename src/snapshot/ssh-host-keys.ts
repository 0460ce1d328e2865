import type { Kysely } from 'kysely';
import ssh2 from '../ssh2/library.js';
import type { Database } from '../db/schema.js';
import { HOST_KEY_ALGORITHMS } from '../protocols/sftp/host-keys.js';
import { FieldError } from './kinds/kind.js';
import type { SshHostKeySpec } from './model.js';

/** The cluster's SSH host keys (private keys), by algorithm. */
export async function readSshHostKeys(db: Kysely<Database>): Promise<SshHostKeySpec[]> {
  const rows = await db.selectFrom('host_keys').select(['algorithm', 'private_key']).execute();
  return rows
    .filter((r) => HOST_KEY_ALGORITHMS.includes(r.algorithm))
    .map((r) => ({ algorithm: r.algorithm, privateKey: r.private_key }))
    .sort((a, b) => HOST_KEY_ALGORITHMS.indexOf(a.algorithm) - HOST_KEY_ALGORITHMS.indexOf(b.algorithm));
}

export function validateSshHostKey(spec: SshHostKeySpec): void {
  if (!HOST_KEY_ALGORITHMS.includes(spec.algorithm)) {
    throw new FieldError(['algorithm'], `unknown host key algorithm "${spec.algorithm}": use ${HOST_KEY_ALGORITHMS.join(' or ')}`);
  }
  const parsed = ssh2.utils.parseKey(spec.privateKey);
  const key = parsed instanceof Error ? undefined : Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key?.isPrivateKey() || key.type !== spec.algorithm) {
    throw new FieldError(['privateKey'], `not an unencrypted ${spec.algorithm} private key`);
  }
}

/** Replaces the host key of the spec's algorithm; nodes present it from their next start. */
export async function writeSshHostKey(db: Kysely<Database>, spec: SshHostKeySpec): Promise<void> {
  await db
    .insertInto('host_keys')
    .values({ algorithm: spec.algorithm, private_key: spec.privateKey, created_at: Date.now() })
    .onConflict((oc) => oc.column('algorithm').doUpdateSet({ private_key: spec.privateKey }))
    .execute();
}
