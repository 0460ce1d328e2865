import fs from 'node:fs';
import path from 'node:path';
import { PkiError } from './errors.js';

export interface NewFile {
  path: string;
  content: string;
  mode: number;
}

/**
 * Writes new files, each created exclusively (never over an existing file) and
 * fsynced, with its mode. All or nothing: if one cannot be written, the ones
 * written before it are removed again.
 */
export function writeNewFiles(files: NewFile[]): void {
  const written: string[] = [];
  let current: string | undefined;
  try {
    for (const file of files) {
      current = file.path;
      const fd = fs.openSync(file.path, 'wx', file.mode);
      written.push(file.path);
      try {
        fs.fchmodSync(fd, file.mode);
        fs.writeFileSync(fd, file.content);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
  } catch (err) {
    for (const p of written) fs.rmSync(p, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new PkiError(`${current} already exists; not overwriting it`);
    throw new PkiError(`cannot write ${current}: ${(err as Error).message}`);
  }
  if (files.length > 0) fsyncDirectory(path.dirname(files[0]!.path));
}

function fsyncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A directory that must exist and be readable. */
export function requireDirectory(dir: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new PkiError(`no directory ${dir}`);
    throw new PkiError(`cannot use ${dir}: ${(err as Error).message}`);
  }
  if (!stat.isDirectory()) throw new PkiError(`${dir} is not a directory`);
  try {
    fs.accessSync(dir, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    throw new PkiError(`cannot use ${dir}: ${(err as Error).message}`);
  }
}

export function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new PkiError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

export function exists(file: string): boolean {
  try {
    fs.lstatSync(file);
    return true;
  } catch {
    return false;
  }
}
