import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StorageError } from './errors.js';
import { durabilityFor, type Durability } from './durability.js';

const MAX_NAME_BYTES = 255;
const MAX_PATH_BYTES = 4096;

/** The permission bits a user may set: no setuid, setgid or sticky bit on files the service user owns. */
export const PERMISSION_BITS = 0o777;

export interface HomeOptions {
  /** Bits cleared from the mode of every file or directory a user creates (storage.umask). */
  umask?: number;
}

export interface ResolvedPath {
  /** The path as the client sees it, normalised, always starting with '/'. */
  virtual: string;
  /** The real path on disk, inside the home. */
  real: string;
  /**
   * What lstat found at the path as it was resolved, when its parent is a
   * directory: the entry, or null when there is none. Undefined when not looked
   * at (the parent is missing or no directory, or the path has a symbolic link).
   */
  found?: fs.Stats | null;
}

/**
 * One account's view of storage: a home directory the account sees as '/', like
 * OpenSSH's ChrootDirectory. Every path a protocol handles goes through resolve(),
 * which is the only place that decides whether a path stays inside the home.
 */
export class Home {
  readonly root: string;
  /** How this home's files and partial uploads are made durable (one file system: uploads are renamed across). */
  readonly durability: Durability;
  /** The root as a prefix for '/name' parts: '' when the root is '/'. */
  private readonly base: string;

  /** Bits cleared from the mode of what users create, as OpenSSH's sftp-server -u does. */
  readonly umask: number;

  constructor(
    root: string,
    /** Directory where this account's partial uploads wait, outside the home. */
    readonly partialDir: string,
    options: HomeOptions = {},
  ) {
    this.umask = (options.umask ?? 0o022) & PERMISSION_BITS;
    fs.mkdirSync(root, { recursive: true });
    fs.mkdirSync(partialDir, { recursive: true });
    this.root = fs.realpathSync(root);
    this.base = this.root === '/' ? '' : this.root;
    this.durability = durabilityFor(partialDir);
  }

  /** The mode of a new file or directory: what the client asked for (or `fallback`), masked. */
  newMode(requested: number | undefined, fallback: number): number {
    return (requested ?? fallback) & PERMISSION_BITS & ~this.umask;
  }

  /** Normalises a client path ('..' stops at '/') and checks it stays inside the home. */
  resolve(clientPath: string): ResolvedPath {
    if (clientPath.includes('\0')) throw new StorageError('EINVAL', 'path contains a NUL byte');
    if (Buffer.byteLength(clientPath) > MAX_PATH_BYTES) throw new StorageError('ENAMETOOLONG', 'path too long');
    const virtual = path.posix.normalize('/' + clientPath).replace(/(.)\/+$/, '$1');
    const names = virtual === '/' ? [] : virtual.slice(1).split('/');
    for (const name of names) {
      if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
        throw new StorageError('ENAMETOOLONG', `file name longer than ${MAX_NAME_BYTES} bytes`);
      }
    }
    // `virtual` is normalised (no '.', '..', empty or trailing names): joining is concatenating.
    const real = virtual === '/' ? this.root : this.base + virtual;
    if (names.length === 0) {
      this.assertInsideSlow(real);
      return { virtual, real };
    }
    return { virtual, real, found: this.walkInside(names, real) };
  }

  /**
   * Refuses a path whose existing part leads outside the home through a symbolic
   * link (the link itself may sit inside the home, on shared storage). Looks at
   * each name below the root with lstat: the usual path, directories down to a
   * last name that is no link, costs one system call a name and throws nothing
   * (realpath would look at every name from '/', and exceptions cost more than
   * the calls). A symbolic link anywhere sends the path to the full check.
   */
  private walkInside(names: string[], real: string): fs.Stats | null | undefined {
    let at = this.base;
    for (let i = 0; i < names.length; i++) {
      at += '/' + names[i]!;
      const entry = fs.lstatSync(at, { throwIfNoEntry: false });
      if (entry?.isSymbolicLink()) {
        this.assertInsideSlow(real);
        return undefined;
      }
      if (i === names.length - 1) return entry ?? null;
      // A missing directory or a file on the way: nothing below it exists, so nothing leads out.
      if (!entry?.isDirectory()) return undefined;
    }
    return undefined;
  }

  private assertTargetInside(target: string): void {
    if (target !== this.root && !target.startsWith(this.root + path.sep)) {
      throw new StorageError('EACCES', 'path leads outside the home directory');
    }
  }

  /** The real path of the longest existing prefix of `real` decides. */
  private assertInsideSlow(real: string): void {
    let probe = real;
    for (;;) {
      try {
        this.assertTargetInside(fs.realpathSync.native(probe));
        return;
      } catch (err) {
        if (err instanceof StorageError) throw err;
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
        if (probe === this.root) return;
        // A dangling symlink pointing out would make realpath fail: check the link itself.
        try {
          if (fs.lstatSync(probe).isSymbolicLink()) {
            throw new StorageError('EACCES', 'path leads outside the home directory');
          }
        } catch (inner) {
          if (inner instanceof StorageError) throw inner;
        }
        probe = path.dirname(probe);
      }
    }
  }

  /** Where the partial upload of a virtual path lives while it is in progress. */
  partialPathOf(virtual: string): string {
    return partialPathIn(this.partialDir, virtual);
  }

  /** The partial upload of a path, if one is waiting to be resumed. */
  partialStats(virtual: string): fs.Stats | undefined {
    try {
      return fs.statSync(this.partialPathOf(virtual));
    } catch {
      return undefined;
    }
  }

  toVirtual(real: string): string {
    const rel = path.relative(this.root, real);
    return '/' + rel.split(path.sep).join('/');
  }
}

/** The home of an account whose home directory is `home` (relative to the storage directory). */
export function accountHome(storageDir: string, account: { id: number; home: string }, options: HomeOptions = {}): Home {
  return new Home(path.join(storageDir, account.home), partialDirFor(storageDir, account.id), options);
}

function partialPathIn(partialDir: string, virtual: string): string {
  const key = crypto.createHash('sha256').update(virtual).digest('hex').slice(0, 40);
  return path.join(partialDir, `${key}.part`);
}

/** The partial upload of an account's virtual path, for those who have no Home at hand. */
export function partialPathFor(storageDir: string, accountId: number, virtual: string): string {
  return partialPathIn(partialDirFor(storageDir, accountId), virtual);
}

/** Where an account's partial uploads wait: beside the homes, never inside one. */
export function partialDirFor(storageDir: string, accountId: number): string {
  return path.join(storageDir, '.partial', String(accountId));
}
