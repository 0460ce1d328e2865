import fs from 'node:fs';
import path from 'node:path';
import type { SshHostKeySpec } from '../../src/snapshot/model.js';

/**
 * SSH host keys for test nodes, made once per test run. A node on a database
 * without host keys generates them, and the RSA-3072 one takes 0.3 to 1.5 s of
 * CPU: on every fresh database of every test, a good part of the suite's time.
 * test/run.ts writes them to a file (FERRY_TEST_HOST_KEYS) that every test file
 * reads; a test file run on its own makes them once for itself.
 */
export const HOST_KEYS_ENV = 'FERRY_TEST_HOST_KEYS';

let made: Promise<SshHostKeySpec[]> | undefined;

/** Makes a set of host keys the way a node does (host-keys.ts), in a throwaway in-memory database. */
async function makeHostKeys(): Promise<SshHostKeySpec[]> {
  const { migrate, openDatabase } = await import('../../src/db/connect.js');
  const { loadHostKeys } = await import('../../src/protocols/sftp/host-keys.js');
  const { readSshHostKeys } = await import('../../src/snapshot/ssh-host-keys.js');
  const handle = openDatabase('sqlite::memory:');
  try {
    await migrate(handle);
    await loadHostKeys(handle.db);
    return await readSshHostKeys(handle.db);
  } finally {
    await handle.close();
  }
}

/** Writes a fresh set of host keys to `dir` for the whole run; returns the file. */
export async function writeRunHostKeys(dir: string): Promise<string> {
  const file = path.join(dir, 'host-keys.json');
  fs.writeFileSync(file, JSON.stringify(await makeHostKeys()), { mode: 0o600 });
  return file;
}

export function testHostKeys(): Promise<SshHostKeySpec[]> {
  const file = process.env[HOST_KEYS_ENV];
  made ??= file ? Promise.resolve(JSON.parse(fs.readFileSync(file, 'utf8')) as SshHostKeySpec[]) : makeHostKeys();
  return made;
}
