import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
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

export function tempDir(prefix = 'ferry-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
