import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type SQLite from 'better-sqlite3';
import { BackupError } from './errors.js';
import { fsyncPath } from './manifest.js';

const require = createRequire(import.meta.url);
const Sqlite = () => require('better-sqlite3') as typeof SQLite;

export function sqliteFile(url: string): string {
  return path.resolve(url.slice('sqlite:'.length));
}

/**
 * Copies a live SQLite database with SQLite's online backup API. All pages go in
 * one step, under one read transaction: a consistent snapshot that writers (in WAL
 * mode) are not held up by, and that is never restarted by their commits.
 */
export async function backupSqlite(source: string, destination: string): Promise<void> {
  if (!fs.existsSync(source)) throw new BackupError(`the database file ${source} does not exist`);
  // Not read-only: a read-only connection cannot open a WAL database whose -shm file is gone.
  const db = new (Sqlite())(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    await db.backup(destination, { progress: () => 0x7fffffff });
  } finally {
    db.close();
  }
  checkIntegrity(destination);
  fs.chmodSync(destination, 0o600);
  fsyncPath(destination);
}

function checkIntegrity(file: string): void {
  const db = new (Sqlite())(file, { readonly: true, fileMustExist: true });
  try {
    const result = db.pragma('quick_check', { simple: true });
    if (result !== 'ok') throw new BackupError(`${file} failed SQLite's integrity check: ${result}`);
  } finally {
    db.close();
  }
}

/** Tables in a SQLite file (none for a missing or zero-length file). */
function tablesIn(file: string): string[] {
  if (!fs.existsSync(file) || fs.statSync(file).size === 0) return [];
  const db = new (Sqlite())(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("select name from sqlite_master where type = 'table'").all() as Array<{ name: string }>).map((r) => r.name);
  } finally {
    db.close();
  }
}

/** Restores a backed-up SQLite file as `target`, which must not hold a database yet. */
export function restoreSqlite(backupFile: string, target: string): void {
  const tables = tablesIn(target);
  if (tables.length > 0) {
    throw new BackupError(`the target database ${target} is not empty (${tables.length} tables): restore only into a new database file`);
  }
  if (fs.existsSync(`${target}-wal`) && fs.statSync(`${target}-wal`).size > 0) {
    throw new BackupError(`${target}-wal exists: a database was in use there; restore only into a new database file`);
  }
  fs.mkdirSync(path.dirname(target), { recursive: true });
  checkIntegrity(backupFile);
  const partial = `${target}.restore-${process.pid}`;
  try {
    fs.copyFileSync(backupFile, partial, fs.constants.COPYFILE_EXCL);
    fs.chmodSync(partial, 0o600);
    fsyncPath(partial);
    for (const leftover of [`${target}-wal`, `${target}-shm`]) fs.rmSync(leftover, { force: true });
    fs.renameSync(partial, target);
    fsyncPath(path.dirname(target));
  } catch (err) {
    fs.rmSync(partial, { force: true });
    throw err;
  }
}
