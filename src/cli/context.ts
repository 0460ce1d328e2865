import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { openDatabase, type DatabaseHandle } from '../db/connect.js';
import { requireKnownSchema } from '../db/schema-version.js';

/** A user-facing failure: printed as `ferry: message`, exit code 1. */
export class CliError extends Error {}

export interface GlobalOptions {
  config?: string;
}

export function configFrom(options: GlobalOptions): Config {
  return loadConfig({ file: options.config });
}

/**
 * Opens the configured database, runs `work`, closes it. The schema must be the one
 * this Ferry knows (an empty database is initialised): commands never migrate an
 * existing schema; `ferry db migrate` does.
 */
export async function withDatabase<T>(options: GlobalOptions, work: (db: DatabaseHandle, config: Config) => Promise<T>): Promise<T> {
  return withAnySchema(options, async (database, config) => {
    await requireKnownSchema(database);
    return work(database, config);
  });
}

/** Opens the configured database whatever its schema (for `ferry db`), runs `work`, closes it. */
export async function withAnySchema<T>(options: GlobalOptions, work: (db: DatabaseHandle, config: Config) => Promise<T>): Promise<T> {
  const config = configFrom(options);
  const database = openDatabase(config.database.url, { poolSize: 2 });
  try {
    return await work(database, config);
  } finally {
    await database.close();
  }
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The password from standard input: the first line, without its line ending. */
export async function passwordFromStdin(): Promise<string> {
  const text = await readStdin();
  const password = text.split(/\r?\n/)[0] ?? '';
  if (!password) throw new CliError('no password on standard input');
  return password;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Prints rows as aligned columns under a header. */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  process.stdout.write([line(header), ...rows.map(line)].join('\n') + '\n');
}

export { isoTime } from '../views/time.js';
