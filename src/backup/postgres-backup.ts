import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { BackupError } from './errors.js';
import { fsyncPath } from './manifest.js';

/** A PostgreSQL client program: the newest of Debian's /usr/lib/postgresql/N/bin, else from PATH. */
export function postgresProgram(name: string): string {
  const root = '/usr/lib/postgresql';
  if (fs.existsSync(root)) {
    const versions = fs.readdirSync(root).sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const candidate = path.join(root, version, 'bin', name);
      if (fs.existsSync(candidate)) return candidate;
    }
  }
  return name;
}

/** The URL without its password, and the password for PGPASSWORD: never on a command line others can read. */
function connection(url: string): { url: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { url: parsed.toString(), env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } };
}

function run(program: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const binary = postgresProgram(program);
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) =>
      reject(new BackupError(`cannot run ${program} (${binary}): ${err.message}; install the PostgreSQL client programs (Debian: postgresql-client)`)),
    );
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new BackupError(`${program} failed (exit code ${code}): ${stderr.trim().slice(-2000)}`)),
    );
  });
}

/**
 * pg_dump in its custom format: one consistent snapshot (a repeatable-read
 * transaction) taken while nodes keep writing, without owners or grants so it
 * restores into a database owned by another role.
 */
export async function dumpPostgres(url: string, destination: string): Promise<void> {
  const c = connection(url);
  await run('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--file=${destination}`, `--dbname=${c.url}`], c.env);
  fs.chmodSync(destination, 0o600);
  fsyncPath(destination);
  // Proves the archive is readable: pg_restore lists its table of contents.
  await run('pg_restore', ['--list', destination], c.env);
}

async function userTables(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    const result = await client.query(
      "select count(*)::int as n from information_schema.tables where table_schema not in ('pg_catalog', 'information_schema')",
    );
    return result.rows[0].n as number;
  } catch (err) {
    throw new BackupError(`cannot reach the target database: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => {});
  }
}

/** pg_restore into an empty database, in one transaction: all of it or, on any error, nothing. */
export async function restorePostgres(dumpFile: string, url: string): Promise<void> {
  const tables = await userTables(url);
  if (tables > 0) {
    throw new BackupError(`the target database is not empty (${tables} tables): restore only into a new database (createdb)`);
  }
  const c = connection(url);
  await run('pg_restore', ['--single-transaction', '--exit-on-error', '--no-owner', '--no-privileges', `--dbname=${c.url}`, dumpFile], c.env);
}
