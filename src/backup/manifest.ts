import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Dialect } from '../db/connect.js';
import { BackupError } from './errors.js';

export const MANIFEST_FILE = 'manifest.json';
const FORMAT = 'ferry-backup';
const FORMAT_VERSION = 1;

export interface BackupFile {
  /** Relative to the backup directory: database.*, or files/<path in storage.dir>. */
  name: string;
  bytes: number;
  sha256: string;
  /** A storage file's permission bits, restored with it. */
  mode?: number;
}

export interface Manifest {
  format: typeof FORMAT;
  formatVersion: number;
  ferryVersion: string;
  created: string;
  database: {
    kind: Dialect;
    /** The source database's URL, password masked. */
    source: string;
    /** The last schema migration applied to the backed-up database. */
    migration: string | null;
  };
  files: BackupFile[];
  /** Whether storage.dir was copied into files/ (ferry backup --with-files). */
  storage?: { dir: string; files: number; bytes: number };
}

export async function describeFile(dir: string, name: string): Promise<BackupFile> {
  const file = path.join(dir, name);
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return { name, bytes: fs.statSync(file).size, sha256: hash.digest('hex') };
}

/** fsyncs a file or a directory, so what was written survives a crash. */
export function fsyncPath(target: string): void {
  const fd = fs.openSync(target, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes manifest.json last, atomically: a directory without one is an unfinished backup. */
export function writeManifest(dir: string, manifest: Omit<Manifest, 'format' | 'formatVersion'>): Manifest {
  const full: Manifest = { format: FORMAT, formatVersion: FORMAT_VERSION, ...manifest };
  const partial = path.join(dir, `.${MANIFEST_FILE}.partial`);
  fs.writeFileSync(partial, JSON.stringify(full, null, 2) + '\n', { mode: 0o600 });
  fsyncPath(partial);
  fs.renameSync(partial, path.join(dir, MANIFEST_FILE));
  fsyncPath(dir);
  return full;
}

export function readManifest(dir: string): Manifest {
  const file = path.join(dir, MANIFEST_FILE);
  let value: any;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing (not a backup, or an unfinished one)' : `is unreadable: ${(err as Error).message}`;
    throw new BackupError(`${file} ${why}`);
  }
  if (value?.format !== FORMAT || !Array.isArray(value.files) || !value.database?.kind) {
    throw new BackupError(`${file} is not a Ferry backup manifest`);
  }
  if (value.formatVersion > FORMAT_VERSION) {
    throw new BackupError(
      `${file} has format version ${value.formatVersion}, made by a newer Ferry (${value.ferryVersion}); this one reads up to ${FORMAT_VERSION}`,
    );
  }
  return value as Manifest;
}

/** Checks every file against its size and SHA-256; throws naming each one that differs. */
export async function verifyFiles(dir: string, manifest: Manifest): Promise<void> {
  const problems: string[] = [];
  for (const expected of manifest.files) {
    const normalized = path.normalize(expected.name);
    if (path.isAbsolute(normalized) || normalized.split(path.sep).includes('..') || normalized !== expected.name) {
      throw new BackupError(`the manifest names a file outside the backup: ${expected.name}`);
    }
    if (!fs.existsSync(path.join(dir, expected.name))) {
      problems.push(`${expected.name} is missing`);
      continue;
    }
    const actual = await describeFile(dir, expected.name);
    if (actual.bytes !== expected.bytes || actual.sha256 !== expected.sha256) {
      problems.push(
        `${expected.name} does not match the manifest (size ${actual.bytes}, expected ${expected.bytes}; SHA-256 ${actual.sha256.slice(0, 12)}…, expected ${expected.sha256.slice(0, 12)}…)`,
      );
    }
  }
  if (problems.length > 0) throw new BackupError(`the backup in ${dir} is damaged: ${problems.join('; ')}`);
}
