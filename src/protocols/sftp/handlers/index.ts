import { Packet } from '../constants.js';
import { mkdir, opendir, readdir, rmdir } from './directories.js';
import { extended, init } from './extensions.js';
import { close, fsetstat, fstat, open, read, write } from './files.js';
import { lstat, readlink, realpath, remove, rename, setstat, stat, symlink } from './paths.js';
import type { Handler } from './types.js';

/** One table from request type to handler, as in OpenSSH's sftp-server.c. */
export const handlers: Partial<Record<number, Handler>> = {
  [Packet.INIT]: init,
  [Packet.OPEN]: open,
  [Packet.CLOSE]: close,
  [Packet.READ]: read,
  [Packet.WRITE]: write,
  [Packet.LSTAT]: lstat,
  [Packet.FSTAT]: fstat,
  [Packet.SETSTAT]: setstat,
  [Packet.FSETSTAT]: fsetstat,
  [Packet.OPENDIR]: opendir,
  [Packet.READDIR]: readdir,
  [Packet.REMOVE]: remove,
  [Packet.MKDIR]: mkdir,
  [Packet.RMDIR]: rmdir,
  [Packet.REALPATH]: realpath,
  [Packet.STAT]: stat,
  [Packet.RENAME]: rename,
  [Packet.READLINK]: readlink,
  [Packet.SYMLINK]: symlink,
  [Packet.EXTENDED]: extended,
};
