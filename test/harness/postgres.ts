import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { postgresProgram } from '../../src/backup/postgres-backup.js';
import { freePort } from './ports.js';

/** Finds the PostgreSQL server binaries: Debian's /usr/lib/postgresql/N/bin, else PATH. */
const pgBin = postgresProgram;

const asRoot = process.getuid?.() === 0;

/** initdb refuses to run as root: run the server binaries as the postgres user then. */
function runPg(bin: string, args: string[], logFile?: string): void {
  const cmd = asRoot ? ['runuser', '-u', 'postgres', '--', pgBin(bin), ...args] : [pgBin(bin), ...args];
  // The server pg_ctl starts inherits our stdio: hand it none, or spawnSync waits for it forever.
  const result = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', stdio: logFile ? 'ignore' : 'pipe' });
  if (result.status !== 0) {
    const detail = logFile && fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : result.stderr || result.stdout;
    throw new Error(`${bin} failed (${result.status}): ${detail || result.error}`);
  }
}

export interface PostgresServer {
  adminUrl: string;
  dataDir: string;
  stop(): Promise<void>;
  /** Stops the server (fast shutdown) and starts it again on the same port. */
  restart(downtimeMs?: number): Promise<void>;
  /** Stops the server, keeping its data, until start(). */
  halt(): void;
  /** Starts a halted server again on the same port. */
  start(): void;
}

/** Starts a private PostgreSQL on a free loopback port in a temporary directory. */
export async function startPostgres(): Promise<PostgresServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-pg-'));
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const dataDir = path.join(dir, 'data');
  runPg('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=300`;
  const log = path.join(dir, 'server.log');
  const start = () => runPg('pg_ctl', ['-D', dataDir, '-o', options, '-l', log, '-w', '-t', '60', 'start'], log);
  const stop = () => runPg('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop'], log);
  start();
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir,
    async stop() {
      stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
    halt: stop,
    start,
    async restart(downtimeMs = 0) {
      stop();
      if (downtimeMs > 0) await new Promise((r) => setTimeout(r, downtimeMs));
      start();
    },
  };
}

/** Creates an empty database for one test and returns its URL. */
export async function createDatabase(adminUrl: string): Promise<string> {
  const name = `ferry_test_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  return adminUrl.replace(/\/postgres$/, `/${name}`);
}
