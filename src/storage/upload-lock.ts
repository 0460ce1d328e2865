import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { StorageError } from './errors.js';

/**
 * One writer per partial upload, across every process and node sharing the
 * storage: a lock beside the partial file, removed when the upload is committed
 * or abandoned. Two write handles on one partial would each hash only their own
 * writes, and a log row would carry a SHA-256 the file does not have. A lock on
 * the storage, not a database row: the partial lives on the shared storage, so
 * the lock does too, and opening a file costs no database round trip.
 *
 * The lock is a symbolic link whose target names its holder (host, boot id, pid
 * and a token): creating a link is atomic and fails if one exists, on local file
 * systems and NFS alike, and names the holder in the same system call. Taking it
 * is one symlink(), checking it one readlink(), releasing it a readlink() and an
 * unlink(): a lock file written with O_EXCL took eight system calls per upload,
 * a fifth of the server's CPU for a small file. (A plain file with the holder as
 * JSON, as earlier versions wrote, is still understood.)
 *
 * Its holder's process touches it every LOCK_REFRESH_MS. A lock is stale, and the
 * next opener takes it over, when its holder is gone: a process of this machine
 * that no longer runs (or this process, holding no such lock any more), or a lock
 * not touched for LOCK_STALE_MS (its node died or hangs).
 */
const LOCK_REFRESH_MS = 1000;
const LOCK_STALE_MS = 3000;
/** A lock older than this missed a refresh: its holder may be gone, worth waiting for. */
const LOCK_SUSPECT_MS = 1500;
const POLL_MS = 100;

interface Holder {
  host: string;
  boot: string;
  pid: number;
  token: string;
}

const HOST = os.hostname();
const BOOT = readBootId();
/** Tokens are unique within a process; its start time tells it from an earlier process with the same pid. */
const PROCESS_TAG = Math.round(performance.timeOrigin).toString(36);
let tokens = 0;
const held = new Map<string, UploadLock>();
let refresher: NodeJS.Timeout | undefined;

function readBootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

export class UploadLock {
  private constructor(
    readonly file: string,
    private readonly token: string,
    /** The link's target: the holder, as JSON. */
    private readonly holderText: string,
    /** Taken over from a holder that is gone: what it wrote last is not in anyone's hash. */
    readonly tookOver: boolean,
  ) {}

  /** Takes the lock of `partialPath`, or throws EBUSY while a live holder has it. */
  static async acquire(partialPath: string, signal?: AbortSignal): Promise<UploadLock> {
    const file = `${partialPath}.lock`;
    const deadline = Date.now() + LOCK_STALE_MS + 500;
    let tookOver = false;
    for (;;) {
      const token = `${PROCESS_TAG}-${++tokens}`;
      const holderText = JSON.stringify({ host: HOST, boot: BOOT, pid: process.pid, token } satisfies Holder);
      try {
        fs.symlinkSync(holderText, file);
        const lock = new UploadLock(file, token, holderText, tookOver);
        held.set(file, lock);
        startRefreshing();
        return lock;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const seen = fs.lstatSync(file, { throwIfNoEntry: false });
      if (!seen) continue;
      const age = Date.now() - seen.mtimeMs;
      if (holderGone(file, age)) {
        tookOver = removeIfSame(file, seen.ino) || tookOver;
        continue;
      }
      if (age < LOCK_SUSPECT_MS || Date.now() >= deadline || signal?.aborted) {
        throw new StorageError('EBUSY', 'the file is being uploaded by another session');
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Whether this upload still holds its lock (a holder presumed gone may have lost it). */
  stillHeld(): boolean {
    return readHolderText(this.file) === this.holderText;
  }

  /** Removes the lock if it is still this upload's; `checked`: stillHeld() said so a moment ago. */
  release(checked = false): void {
    if (held.get(this.file) !== this) return;
    held.delete(this.file);
    if (held.size === 0) stopRefreshing();
    if (!checked && !this.stillHeld()) return;
    try {
      fs.unlinkSync(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  get ownToken(): string {
    return this.token;
  }
}

/** The lock's holder as written: a link's target, or an older Ferry's lock file's content; undefined if there is none. */
function readHolderText(file: string): string | undefined {
  try {
    return fs.readlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') return undefined;
  }
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function holderGone(file: string, age: number): boolean {
  if (age > LOCK_STALE_MS) return true;
  let holder: Holder;
  try {
    holder = JSON.parse(readHolderText(file) ?? '') as Holder;
  } catch {
    // An older Ferry's lock file being written, or removed meanwhile: judged by its age alone.
    return false;
  }
  if (holder.host !== HOST || holder.boot !== BOOT) return false;
  if (holder.pid === process.pid) return held.get(file)?.ownToken !== holder.token;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Removes a stale lock file, but only the one judged stale: it is renamed to a name
 * of its own first, and put back if another opener replaced it meanwhile.
 */
function removeIfSame(file: string, ino: number): boolean {
  const aside = `${file}.stale-${crypto.randomBytes(6).toString('hex')}`;
  try {
    fs.renameSync(file, aside);
  } catch {
    return false;
  }
  if (fs.lstatSync(aside).ino !== ino) {
    try {
      fs.linkSync(aside, file);
    } catch {}
    fs.rmSync(aside, { force: true });
    return false;
  }
  fs.rmSync(aside, { force: true });
  return true;
}

function startRefreshing(): void {
  if (refresher) return;
  refresher = setInterval(() => {
    const now = new Date();
    for (const lock of held.values()) {
      try {
        fs.lutimesSync(lock.file, now, now);
      } catch {}
    }
  }, LOCK_REFRESH_MS);
  refresher.unref();
}

function stopRefreshing(): void {
  clearInterval(refresher);
  refresher = undefined;
}
