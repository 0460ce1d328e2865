import fs from 'node:fs';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { dialectOf, maskUrl, migrate, openDatabase, type Dialect } from '../db/connect.js';
import { requireKnownSchema } from '../db/schema-version.js';
import { migrations } from '../db/migrations.js';
import type { Database } from '../db/schema.js';
import { VERSION } from '../version.js';
import { BackupError } from './errors.js';
import { exportSnapshot } from '../snapshot/index.js';
import { describeFile, readManifest, verifyFiles, writeManifest, type Manifest } from './manifest.js';
import { dumpPostgres, restorePostgres } from './postgres-backup.js';
import { backupSqlite, restoreSqlite, sqliteFile } from './sqlite-backup.js';
import { backupStorage, isEmptyDirectory, restoreStorage } from './storage-copy.js';

const DATABASE_FILE: Record<Dialect, string> = { sqlite: 'database.sqlite', postgres: 'database.pgdump' };

async function lastMigration(db: Kysely<Database>): Promise<string | null> {
  const result = await sql<{ name: string }>`select name from ferry_migrations order by name desc limit 1`.execute(db);
  return result.rows[0]?.name ?? null;
}

/** A new backup directory: created (0700: the backup holds password hashes and keys), or an existing empty one. */
function prepareDirectory(dir: string): boolean {
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new BackupError(`${dir} exists and is not a directory`);
    if (fs.readdirSync(dir).length > 0) throw new BackupError(`${dir} is not empty: back up into a new or empty directory`);
    return false;
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return true;
}

export interface StorageOption {
  /** storage.dir, when the files are to be backed up or restored too (--with-files). */
  storageDir?: string;
}

/** The configuration snapshot next to the database backup: readable, and importable into any database kind. */
export const SNAPSHOT_FILE = 'configuration.xml';

/** `ferry export --format xml --with-secrets --with-host-keys`, taken just after the database backup. */
async function writeSnapshot(url: string, file: string): Promise<void> {
  const handle = openDatabase(url, { poolSize: 1 });
  try {
    fs.writeFileSync(file, await exportSnapshot(handle.db, 'xml', { withSecrets: true, withHostKeys: true }), { mode: 0o600 });
  } finally {
    await handle.close();
  }
}

/**
 * Backs up the database while the cluster serves: a consistent snapshot (SQLite's
 * online backup API, or pg_dump), the configuration snapshot (configuration.xml),
 * then optionally the storage files, with their
 * SHA-256 in manifest.json, written last. A failed backup leaves nothing behind.
 */
export async function createBackup(url: string, dir: string, options: StorageOption = {}): Promise<Manifest> {
  const kind = dialectOf(url);
  const created = prepareDirectory(dir);
  const file = DATABASE_FILE[kind];
  try {
    const handle = openDatabase(url, { poolSize: 1 });
    let migration: string | null;
    try {
      await requireKnownSchema(handle);
      migration = await lastMigration(handle.db);
    } finally {
      await handle.close();
    }
    if (kind === 'sqlite') await backupSqlite(sqliteFile(url), path.join(dir, file));
    else await dumpPostgres(url, path.join(dir, file));
    await writeSnapshot(url, path.join(dir, SNAPSHOT_FILE));
    const storageFiles = options.storageDir ? await backupStorage(options.storageDir, dir) : [];
    return writeManifest(dir, {
      ferryVersion: VERSION,
      created: new Date().toISOString(),
      database: { kind, source: maskUrl(url), migration },
      files: [await describeFile(dir, file), await describeFile(dir, SNAPSHOT_FILE), ...storageFiles],
      ...(options.storageDir
        ? { storage: { dir: options.storageDir, files: storageFiles.length, bytes: storageFiles.reduce((sum, f) => sum + f.bytes, 0) } }
        : {}),
    });
  } catch (err) {
    if (created) fs.rmSync(dir, { recursive: true, force: true });
    else for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    throw err;
  }
}

export interface RestoreResult {
  manifest: Manifest;
  accounts: number;
  transfers: number;
  /** Storage files restored (with --with-files). */
  files: number | null;
}

/**
 * Rebuilds an empty database from a backup: checks the manifest and every file's
 * SHA-256 first, refuses a target that holds any table, then applies the
 * migrations this Ferry has beyond the backup's.
 */
export async function restoreBackup(dir: string, url: string, options: StorageOption = {}): Promise<RestoreResult> {
  const manifest = readManifest(dir);
  const kind = dialectOf(url);
  if (manifest.database.kind !== kind) {
    throw new BackupError(
      `the backup is of a ${manifest.database.kind} database and database.url is ${kind}: restore supports sqlite → sqlite and postgres → postgres`,
    );
  }
  const known = Object.keys(migrations(kind));
  if (manifest.database.migration && !known.includes(manifest.database.migration)) {
    throw new BackupError(
      `the backup's schema (${manifest.database.migration}) is newer than this Ferry (${VERSION}) knows: restore with Ferry ${manifest.ferryVersion} or later`,
    );
  }
  const file = DATABASE_FILE[kind];
  if (!manifest.files.some((f) => f.name === file)) throw new BackupError(`the manifest lists no ${file}`);
  if (options.storageDir) {
    if (!manifest.storage) throw new BackupError('the backup holds no storage files (it was made without --with-files)');
    if (!isEmptyDirectory(options.storageDir)) {
      throw new BackupError(`storage.dir ${options.storageDir} is not empty: restore files only into an empty directory`);
    }
  }
  await verifyFiles(dir, manifest);

  if (kind === 'sqlite') restoreSqlite(path.join(dir, file), sqliteFile(url));
  else await restorePostgres(path.join(dir, file), url);
  const files = options.storageDir ? await restoreStorage(dir, manifest.files, options.storageDir) : null;

  const handle = openDatabase(url, { poolSize: 1 });
  try {
    await migrate(handle);
    const count = async (table: 'accounts' | 'transfers') =>
      Number(
        (
          await handle.db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    return { manifest, accounts: await count('accounts'), transfers: await count('transfers'), files };
  } finally {
    await handle.close();
  }
}
