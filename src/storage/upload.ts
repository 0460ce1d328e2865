import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { copyAndHash, hashFd } from './chunked-io.js';
import { StorageError } from './errors.js';
import { fileStamp } from './file-stamp.js';
import type { Durability } from './durability.js';
import { PERMISSION_BITS, type Home, type ResolvedPath } from './home.js';
import { assertRoomFor, holeBytes } from './space.js';
import { UploadLock } from './upload-lock.js';

const openAsync = promisify(fs.open);
const closeAsync = promisify(fs.close);

export interface UploadOptions {
  /** Start from empty (SSH_FXF_TRUNC); otherwise continue a partial upload or the existing file. */
  truncate: boolean;
  /** Writes go to the end of the file, whatever offset they name. */
  append: boolean;
  /** Fail if the file already exists (SSH_FXF_EXCL). */
  exclusive: boolean;
  /** Create the file if neither it nor a partial upload of it exists (SSH_FXF_CREAT). */
  create: boolean;
  /** Permissions for a new file. */
  mode?: number;
}

export interface CompletedUpload {
  bytes: number;
  sha256: string;
  /** The published file's stamp (storage/file-stamp.ts). */
  stamp: string;
}

/**
 * An upload in progress. Data goes to a partial file outside the home; close()
 * fsyncs it and renames it over the final name, so readers see the previous
 * version or nothing until then. An upload that is never closed keeps its
 * partial file, which a later open without TRUNC resumes.
 */
export class Upload {
  private constructor(
    private readonly home: Home,
    readonly target: ResolvedPath,
    private readonly partialPath: string,
    private fd: number,
    private readonly inode: number,
    /** Size of the partial file when this upload opened it (the resume point). */
    readonly startOffset: number,
    private size: number,
    private readonly append: boolean,
    private hash: crypto.Hash | undefined,
    private hashedUpTo: number,
    private readonly durability: Durability,
    /** This upload's hold on its partial file (storage/upload-lock.ts). */
    private readonly lock: UploadLock,
  ) {
    // Taken over from a holder presumed gone: its last writes may be in no hash, so the file is hashed again at commit.
    if (lock.tookOver) this.hash = undefined;
  }

  /** The first write error; once set, the upload can only be abandoned. */
  private failure: Error | undefined;

  /** `signal` aborts the work opening may take (copying or hashing a large file) when the session ends. */
  static async open(home: Home, target: ResolvedPath, options: UploadOptions, signal?: AbortSignal): Promise<Upload> {
    // No exceptions on the usual paths (a new file, an existing parent): they cost more than the system calls.
    // What resolving the path found serves, unless it did not look (a link on the way, or no parent directory).
    const seen = target.found;
    const finalStats = seen === undefined ? fs.statSync(target.real, { throwIfNoEntry: false }) : (seen ?? undefined);
    if (!finalStats && seen === undefined && !fs.statSync(path.dirname(target.real)).isDirectory()) {
      throw new StorageError('ENOTDIR', 'Not a directory');
    }
    if (finalStats?.isDirectory()) throw new StorageError('EISDIR', 'Is a directory');
    if (options.exclusive && finalStats) throw new StorageError('EEXIST', 'File exists');

    const partialPath = home.partialPathOf(target.virtual);
    const lock = await UploadLock.acquire(partialPath, signal);
    try {
      return await Upload.openLocked(home, target, options, finalStats, partialPath, lock, signal);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  private static async openLocked(
    home: Home,
    target: ResolvedPath,
    options: UploadOptions,
    finalStats: fs.Stats | undefined,
    partialPath: string,
    lock: UploadLock,
    signal: AbortSignal | undefined,
  ): Promise<Upload> {
    // A new file gets the mode asked for (as OpenSSH, 0666 when none), masked; a file it replaces keeps its own.
    const mode = options.mode !== undefined || !finalStats ? home.newMode(options.mode, 0o666) : finalStats.mode & PERMISSION_BITS;
    let fd: number;
    const missing = () => new StorageError('ENOENT', 'No such file');
    if (options.truncate) {
      // A fresh inode rather than truncating: another session still writing the old
      // partial must not have its rename publish this upload's data.
      if (!options.create && !finalStats && !fs.existsSync(partialPath)) throw missing();
      fd = createFresh(partialPath, mode);
    } else {
      try {
        fd = fs.openSync(partialPath, fs.constants.O_RDWR);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        if (!options.create && !finalStats) throw missing();
        if (finalStats) return Upload.continueFile(home, target, partialPath, mode, options, finalStats, lock, signal);
        fd = fs.openSync(partialPath, fs.constants.O_RDWR | fs.constants.O_CREAT, mode);
      }
    }
    try {
      const st = fs.fstatSync(fd);
      // A partial left sparse (by a server before sizes were bounded) must fit as if written.
      assertRoomFor(home, { growth: holeBytes(st), size: st.size });
      const hash = await hashFd(fd, st.size, signal);
      return new Upload(home, target, partialPath, fd, st.ino, st.size, st.size, options.append, hash, st.size, home.durability, lock);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  /**
   * Continues an existing file: its bytes are copied into a new partial file
   * (holes stay holes) and hashed on the way. The copy is made under a name of its
   * own and linked into place once complete, so nobody resumes a half copy.
   */
  private static async continueFile(
    home: Home,
    target: ResolvedPath,
    partialPath: string,
    mode: number,
    options: UploadOptions,
    finalStats: fs.Stats,
    lock: UploadLock,
    signal: AbortSignal | undefined,
  ): Promise<Upload> {
    assertRoomFor(home, { growth: holeBytes(finalStats), size: finalStats.size });
    const copyPath = `${partialPath}.copy-${crypto.randomBytes(6).toString('hex')}`;
    const from = await openAsync(target.real, fs.constants.O_RDONLY);
    let fd = -1;
    try {
      fd = fs.openSync(copyPath, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
      const size = fs.fstatSync(from).size;
      const hash = await copyAndHash(from, fd, size, signal);
      fs.linkSync(copyPath, partialPath);
      fs.unlinkSync(copyPath);
      const ino = fs.fstatSync(fd).ino;
      return new Upload(home, target, partialPath, fd, ino, size, size, options.append, hash, size, home.durability, lock);
    } catch (err) {
      if (fd >= 0) {
        fs.closeSync(fd);
        fs.rmSync(copyPath, { force: true });
      }
      throw err;
    } finally {
      await closeAsync(from);
    }
  }

  get currentSize(): number {
    return this.size;
  }

  /** Writes synchronously: a large buffer into the page cache is faster than a thread-pool round trip. */
  write(offset: number, data: Buffer): void {
    this.writev(offset, [data]);
  }

  /**
   * Writes `parts` back to back at `offset` in one system call where possible: a
   * request that arrived in several channel reads is written without joining it.
   */
  writev(offset: number, parts: Buffer[]): void {
    if (this.fd < 0) throw new StorageError('EINVAL', 'upload already closed');
    if (this.failure) throw this.failure;
    const at = this.append ? this.size : offset;
    let total = 0;
    for (const part of parts) total += part.length;
    // A write past the end leaves a hole the data does not pay for: bounded like a size set by FSETSTAT.
    if (at > this.size) assertRoomFor(this.home, { growth: at - this.size, size: at + total });
    try {
      let pending = parts;
      let written = 0;
      while (written < total) {
        const n = fs.writevSync(this.fd, pending, at + written);
        written += n;
        if (written < total) pending = remainderOf(parts, written);
      }
    } catch (err) {
      // A lost write (disk full, I/O error) means the file must never be published.
      this.failure = err as Error;
      throw err;
    }
    if (this.hash && at === this.hashedUpTo) {
      for (const part of parts) this.hash.update(part);
      this.hashedUpTo += total;
    } else if (this.hash && at < this.hashedUpTo) {
      // Rewrote bytes already hashed: the streaming hash no longer describes the file.
      this.hash = undefined;
    }
    if (at + total > this.size) this.size = at + total;
  }

  stats(): fs.Stats {
    return fs.fstatSync(this.fd);
  }

  truncate(length: number): void {
    if (length > this.size) assertRoomFor(this.home, { growth: length - this.size, size: length });
    fs.ftruncateSync(this.fd, length);
    if (length < this.hashedUpTo) this.hash = undefined;
    this.size = length;
  }

  setTimes(atime: number, mtime: number): void {
    fs.futimesSync(this.fd, atime, mtime);
  }

  setMode(mode: number): void {
    fs.fchmodSync(this.fd, mode & PERMISSION_BITS);
  }

  async sync(): Promise<void> {
    await this.durability.file(this.fd);
  }

  /**
   * Makes the upload durable and visible under its final name. A file not written
   * in order from its start is hashed here, before it is published (so a hash given
   * up when the session ends publishes nothing); `signal` aborts that.
   */
  async commit(signal?: AbortSignal): Promise<CompletedUpload> {
    if (this.failure) {
      this.abandon();
      throw this.failure;
    }
    const fd = this.fd;
    this.fd = -1;
    let stamp: string;
    let sha256: string;
    let published = false;
    try {
      const hash = this.hash && this.hashedUpTo === this.size ? this.hash : await hashFd(fd, this.size, signal);
      sha256 = hash.digest('hex');
      await this.durability.file(fd);
      const current = fs.statSync(this.partialPath, { throwIfNoEntry: false });
      if (current?.ino !== this.inode || !this.lock.stillHeld()) {
        throw new StorageError('EBUSY', 'upload superseded by another upload of the same file');
      }
      fs.renameSync(this.partialPath, this.target.real);
      published = true;
      // The descriptor still names the published inode: its stamp, after the rename changed its ctime.
      const st = fs.fstatSync(fd, { bigint: true });
      this.size = Number(st.size);
      stamp = fileStamp(st);
    } finally {
      fs.closeSync(fd);
      // Published: the lock was checked just before the rename, no need to read it again.
      this.lock.release(published);
    }
    await this.durability.directory(path.dirname(this.target.real));
    return { bytes: this.size, sha256, stamp };
  }

  /** Closes without publishing: the partial file stays for a resume. */
  abandon(): void {
    if (this.fd < 0) return;
    try {
      fs.closeSync(this.fd);
    } catch {}
    this.fd = -1;
    this.lock.release();
  }

  get bytesWritten(): number {
    return this.size - this.startOffset;
  }
}

/** Creates `file` as a new inode, replacing any file of that name. */
function createFresh(file: string, mode: number): number {
  const flags = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL;
  try {
    return fs.openSync(file, flags, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  fs.unlinkSync(file);
  return fs.openSync(file, flags, mode);
}

/** The bytes of `parts` after the first `skip`, as views. */
function remainderOf(parts: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const part of parts) {
    if (skip >= part.length) {
      skip -= part.length;
      continue;
    }
    out.push(skip > 0 ? part.subarray(skip) : part);
    skip = 0;
  }
  return out;
}
