import fs from 'node:fs';

/**
 * A file version's identity: inode, size and change time in nanoseconds. The
 * change time moves on every write, truncate, chmod, utimes or rename and cannot
 * be set back by users, so an equal stamp means the same bytes.
 */
export function fileStamp(st: fs.BigIntStats): string {
  return `${st.ino}-${st.size}-${st.ctimeNs}`;
}

export function stampOfFd(fd: number): string {
  return fileStamp(fs.fstatSync(fd, { bigint: true }));
}
