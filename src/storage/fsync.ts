import fs from 'node:fs';
import { promisify } from 'node:util';

const fsyncAsync = promisify(fs.fsync);

/** Makes a file's (or directory's) data durable. */
export type Fsync = (fd: number) => Promise<void>;

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/**
 * How to fsync files under `dir`: through the thread pool, since on a disk it can
 * block for milliseconds; at once where the file system lives in memory (tmpfs,
 * ramfs), where fsync returns immediately and the thread-pool round trip (two
 * thread wake-ups, ~50 us) would be all of its cost.
 */
export function fsyncFor(dir: string): Fsync {
  let type: number | undefined;
  try {
    type = fs.statfsSync(dir).type;
  } catch {}
  if (type === TMPFS_MAGIC || type === RAMFS_MAGIC) return async (fd) => fs.fsyncSync(fd);
  return fsyncAsync;
}
