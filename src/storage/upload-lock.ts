import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { StorageError } from './errors.js';

/**
 * One writer per partial upload, across every process and node sharing the
 * storage: a lock file created with O_EXCL beside the partial file, removed when
 * the upload is committed or abandoned. Two write handles on one partial would
 * each hash only their own writes, and a log row would carry a SHA-256 the file
 * does not have. A lock file, not a database row: the partial lives on the shared
 * storage, so the lock does too, and opening a file costs no database round trip.
 *
 * Its holder's process touches it every LOCK_REFRESH_MS. A lock is stale, and the
 * next opener takes it over, when its holder is gone: a process of this machine
 * that no longer runs (or this process, holding no such lock any more), or a lock
 * not touched for LOCK_STALE_MS (its node died or hangs). The lock names its
 * holder: host, boot id and pid.
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
    private readonly ino: number,
    /** Taken over from a holder that is gone: what it wrote last is not in anyone's hash. */
    readonly tookOver: boolean,
  ) {}

  /** Takes the lock of `partialPath`, or throws EBUSY while a live holder has it. */
  static async acquire(partialPath: string, signal?: AbortSignal): Promise<UploadLock> {
    const file = `${partialPath}.lock`;
    const deadline = Date.now() + LOCK_STALE_MS + 500;
    let tookOver = false;
    for (;;) {
      const token = crypto.randomBytes(8).toString('hex');
      const holder: Holder = { host: HOST, boot: BOOT, pid: process.pid, token };
      try {
        fs.writeFileSync(file, JSON.stringify(holder), { flag: 'wx', mode: 0o600 });
        const lock = new UploadLock(file, token, fs.statSync(file).ino, tookOver);
        held.set(file, lock);
        startRefreshing();
        return lock;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const seen = fs.statSync(file, { throwIfNoEntry: false });
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
    return fs.statSync(this.file, { throwIfNoEntry: false })?.ino === this.ino;
  }

  release(): void {
    if (held.get(this.file) !== this) return;
    held.delete(this.file);
    if (held.size === 0) stopRefreshing();
    if (this.stillHeld()) fs.rmSync(this.file, { force: true });
  }

  get ownToken(): string {
    return this.token;
  }
}

function holderGone(file: string, age: number): boolean {
  if (age > LOCK_STALE_MS) return true;
  let holder: Holder;
  try {
    holder = JSON.parse(fs.readFileSync(file, 'utf8')) as Holder;
  } catch {
    // Being written, or removed meanwhile: judged by its age alone.
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
  if (fs.statSync(aside).ino !== ino) {
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
        fs.utimesSync(lock.file, now, now);
      } catch {}
    }
  }, LOCK_REFRESH_MS);
  refresher.unref();
}

function stopRefreshing(): void {
  clearInterval(refresher);
  refresher = undefined;
}
