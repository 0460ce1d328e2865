import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackupError } from './errors.js';
import { fsyncPath, type BackupFile } from './manifest.js';

/** Where storage files go inside a backup directory. */
export const STORAGE_PREFIX = 'files';

/** Interrupted uploads: a restored node cannot resume them (their transfer rows end as aborted). */
const SKIPPED_TOP_LEVEL = new Set(['.partial']);

/** Regular files below `root`, as relative paths; symbolic links and special files are skipped. */
function* walk(root: string, relative = ''): Generator<string> {
  for (const entry of fs.readdirSync(path.join(root, relative), { withFileTypes: true })) {
    const child = relative ? path.join(relative, entry.name) : entry.name;
    if (!relative && SKIPPED_TOP_LEVEL.has(entry.name)) continue;
    if (entry.isDirectory()) yield* walk(root, child);
    else if (entry.isFile()) yield child;
  }
}

/** Copies one file, hashing it on the way, fsynced, with its modification time kept. */
async function copyFile(from: string, to: string, mode: number, dirMode: number): Promise<{ bytes: number; sha256: string }> {
  fs.mkdirSync(path.dirname(to), { recursive: true, mode: dirMode });
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(fs.createReadStream(from), tap, fs.createWriteStream(to, { flags: 'wx', mode }));
  fs.chmodSync(to, mode);
  fsyncPath(to);
  const { atime, mtime } = fs.statSync(from);
  fs.utimesSync(to, atime, mtime);
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * Copies the account homes and the delivery spool (not partial uploads) into
 * DIR/files, file by file, after the database snapshot: every file the backed-up
 * log calls complete was renamed into place before its row committed, so it is
 * here. A file that vanishes while being copied (deleted or archived meanwhile) is
 * left out.
 */
export async function backupStorage(storageDir: string, backupDir: string): Promise<BackupFile[]> {
  if (!fs.existsSync(storageDir)) return [];
  const files: BackupFile[] = [];
  for (const relative of walk(storageDir)) {
    const name = path.join(STORAGE_PREFIX, relative);
    const source = path.join(storageDir, relative);
    try {
      const mode = fs.statSync(source).mode & 0o7777;
      // Inside the backup only its owner reads the files; their own permissions come back at restore.
      files.push({ name, mode, ...(await copyFile(source, path.join(backupDir, name), 0o600, 0o700)) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fs.rmSync(path.join(backupDir, name), { force: true });
    }
  }
  return files;
}

export function isEmptyDirectory(dir: string): boolean {
  return !fs.existsSync(dir) || (fs.statSync(dir).isDirectory() && fs.readdirSync(dir).length === 0);
}

/** Copies the backed-up files into an empty storage directory. */
export async function restoreStorage(backupDir: string, files: readonly BackupFile[], storageDir: string): Promise<number> {
  if (!isEmptyDirectory(storageDir)) throw new BackupError(`storage.dir ${storageDir} is not empty: restore files only into an empty directory`);
  let restored = 0;
  for (const file of files) {
    if (!file.name.startsWith(STORAGE_PREFIX + path.sep)) continue;
    const target = path.join(storageDir, file.name.slice(STORAGE_PREFIX.length + 1));
    await copyFile(path.join(backupDir, file.name), target, file.mode ?? 0o644, 0o755);
    restored++;
  }
  return restored;
}
