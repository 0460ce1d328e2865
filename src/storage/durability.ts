import fs from 'node:fs';
import { promisify } from 'node:util';

const fsyncAsync = promisify(fs.fsync);

/** How data under one directory is made durable. */
export interface Durability {
  /** Makes a file's data durable. */
  file(fd: number): Promise<void>;
  /** Makes a directory's entries durable, such as a file just renamed into it. */
  directory(dir: string): Promise<void>;
}

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/** fsync through the thread pool: on a disk it can block for milliseconds. */
const onDisk: Durability = {
  file: fsyncAsync,
  async directory(dir) {
    const fd = fs.openSync(dir, 'r');
    try {
      await fsyncAsync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
};

/**
 * Where the file system lives in memory (tmpfs, ramfs) fsync does nothing and
 * nothing outlives a reboot: the system calls, and a thread-pool round trip for
 * each, would be all of its cost.
 */
const inMemory: Durability = {
  file: async () => {},
  directory: async () => {},
};

export function durabilityFor(dir: string): Durability {
  let type: number | undefined;
  try {
    type = fs.statfsSync(dir).type;
  } catch {}
  return type === TMPFS_MAGIC || type === RAMFS_MAGIC ? inMemory : onDisk;
}
