/** The benchmark's small files: written with known hashes, checked where they arrive. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface FileSet {
  dir: string;
  /** File name -> SHA-256 (hex). */
  hashes: Map<string, string>;
  size: number;
}

/** `count` files of random bytes named PREFIX-fNNNNN.bin in dir. */
export function writeFiles(dir: string, prefix: string, count: number, size: number): FileSet {
  fs.mkdirSync(dir, { recursive: true });
  const hashes = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-f${String(i).padStart(5, '0')}.bin`;
    const data = crypto.randomBytes(size);
    fs.writeFileSync(path.join(dir, name), data);
    hashes.set(name, crypto.createHash('sha256').update(data).digest('hex'));
  }
  return { dir, hashes, size };
}

/**
 * Checks that every file of the set is in `dir` with the same bytes, and that no
 * name matching `leftover` (a temporary file) is there. Returns the problems found.
 */
export function verifyCopies(files: FileSet, dir: string, leftover?: RegExp): string[] {
  const problems: string[] = [];
  let present: string[];
  try {
    present = fs.readdirSync(dir);
  } catch (err) {
    return [`cannot read ${dir}: ${(err as Error).message}`];
  }
  const here = new Set(present);
  let missing = 0;
  let differ = 0;
  for (const [name, hash] of files.hashes) {
    if (!here.has(name)) {
      missing++;
      continue;
    }
    const got = crypto
      .createHash('sha256')
      .update(fs.readFileSync(path.join(dir, name)))
      .digest('hex');
    if (got !== hash) differ++;
  }
  if (missing > 0) problems.push(`${missing} of ${files.hashes.size} files missing in ${dir}`);
  if (differ > 0) problems.push(`${differ} files in ${dir} differ from their source`);
  if (leftover) {
    const temps = present.filter((n) => leftover.test(n));
    if (temps.length > 0) problems.push(`${temps.length} temporary file(s) left in ${dir}, e.g. ${temps.slice(0, 3).join(', ')}`);
  }
  return problems;
}

/** Free bytes on the file system holding dir. */
export function freeBytes(dir: string): number {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return 0;
  }
}
