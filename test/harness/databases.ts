import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { testHostKeys } from './host-keys.js';
import { createDatabase, startPostgres, type PostgresServer } from './postgres.js';

export type DatabaseKind = 'sqlite' | 'postgres';

/** Every test that touches the database runs once per kind. */
export const DATABASE_KINDS: DatabaseKind[] = ['sqlite', 'postgres'];

let server: Promise<PostgresServer> | undefined;

/**
 * The PostgreSQL of this test run: the one the test runner started (its admin URL
 * in FERRY_TEST_POSTGRES_URL), or one started here for a test file run on its own.
 */
async function postgresAdminUrl(): Promise<string> {
  if (process.env.FERRY_TEST_POSTGRES_URL) return process.env.FERRY_TEST_POSTGRES_URL;
  if (!server) {
    server = startPostgres();
    after(async () => (await server!).stop());
  }
  return (await server).adminUrl;
}

/** A fresh, empty database of the given kind. */
export async function freshDatabaseUrl(kind: DatabaseKind, dir: string): Promise<string> {
  if (kind === 'sqlite') return `sqlite:${path.join(dir, 'ferry.db')}`;
  return createDatabase(await postgresAdminUrl());
}

/**
 * A fresh database with its schema made and the run's SSH host keys in it (see
 * harness/host-keys.ts), as `ferry import` of a snapshot with host keys leaves
 * one: nodes started on it do not spend a second generating keys. For tests of
 * what nodes do on a database; tests of an empty one use freshDatabaseUrl.
 */
export async function preparedDatabaseUrl(kind: DatabaseKind, dir: string): Promise<string> {
  const url = await freshDatabaseUrl(kind, dir);
  // Loaded here, not at the top: most test files never need the database modules in their own process.
  const { migrate, openDatabase } = await import('../../src/db/connect.js');
  const { writeSshHostKey } = await import('../../src/snapshot/ssh-host-keys.js');
  const handle = openDatabase(url, { poolSize: 1 });
  try {
    await migrate(handle);
    for (const key of await testHostKeys()) await writeSshHostKey(handle.db, key);
  } finally {
    await handle.close();
  }
  return url;
}

export function tempDir(prefix = 'ferry-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
