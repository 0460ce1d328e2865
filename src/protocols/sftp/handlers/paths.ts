import fs from 'node:fs';
import path from 'node:path';
import { PERMISSION_BITS, type ResolvedPath } from '../../../storage/home.js';
import { assertRoomFor } from '../../../storage/space.js';
import { Status } from '../constants.js';
import { SftpError } from '../errors.js';
import { attrsReply, nameReply } from '../packet-writer.js';
import type { SftpSession } from '../session.js';
import { refuseOwnerChange } from './files.js';
import type { Handler } from './types.js';

/** A path with an upload waiting to be resumed reports the partial file, so `reput` knows where to continue. */
function statOf(session: SftpSession, target: ResolvedPath, follow: boolean): fs.Stats {
  const partial = session.ctx.home.partialStats(target.virtual);
  if (partial) return partial;
  return follow ? fs.statSync(target.real) : fs.lstatSync(target.real);
}

export const stat: Handler = (session, id, r) => {
  session.send(attrsReply(id, statOf(session, session.ctx.home.resolve(r.path()), true)));
};

export const lstat: Handler = (session, id, r) => {
  session.send(attrsReply(id, statOf(session, session.ctx.home.resolve(r.path()), false)));
};

export const setstat: Handler = (session, id, r) => {
  const target = session.ctx.home.resolve(r.path());
  const attrs = r.attrs();
  const current = fs.statSync(target.real);
  refuseOwnerChange(attrs, current);
  if (attrs.size !== undefined) {
    assertRoomFor(session.ctx.home, { growth: attrs.size - current.size, size: attrs.size });
    fs.truncateSync(target.real, attrs.size);
  }
  if (attrs.permissions !== undefined) fs.chmodSync(target.real, attrs.permissions & PERMISSION_BITS);
  if (attrs.atime !== undefined && attrs.mtime !== undefined) fs.utimesSync(target.real, attrs.atime, attrs.mtime);
  session.sendStatus(id, Status.OK);
};

export const remove: Handler = (session, id, r) => {
  const target = session.ctx.home.resolve(r.path());
  const partial = session.ctx.home.partialPathOf(target.virtual);
  let removedPartial = false;
  try {
    fs.unlinkSync(partial);
    removedPartial = true;
  } catch {}
  try {
    if (fs.lstatSync(target.real).isDirectory()) throw new SftpError(Status.FAILURE, 'Is a directory');
    fs.unlinkSync(target.real);
  } catch (err) {
    if (!(removedPartial && (err as NodeJS.ErrnoException).code === 'ENOENT')) throw err;
  }
  session.sendStatus(id, Status.OK);
};

function renamePaths(session: SftpSession, from: string, to: string): [ResolvedPath, ResolvedPath] {
  const source = session.ctx.home.resolve(from);
  const target = session.ctx.home.resolve(to);
  if (source.virtual === '/' || target.virtual === '/') {
    throw new SftpError(Status.PERMISSION_DENIED, 'cannot rename the home directory');
  }
  return [source, target];
}

/** SFTP v3 rename: refuses to replace an existing target, as OpenSSH does. */
export const rename: Handler = (session, id, r) => {
  const [source, target] = renamePaths(session, r.path(), r.path());
  fs.lstatSync(source.real);
  if (fs.existsSync(target.real)) throw new SftpError(Status.FAILURE, 'File exists');
  fs.renameSync(source.real, target.real);
  session.sendStatus(id, Status.OK);
};

/** posix-rename@openssh.com: replaces the target atomically. */
export function posixRename(session: SftpSession, id: number, from: string, to: string): void {
  const [source, target] = renamePaths(session, from, to);
  fs.renameSync(source.real, target.real);
  session.sendStatus(id, Status.OK);
}

export const realpath: Handler = (session, id, r) => {
  const target = session.ctx.home.resolve(r.path());
  session.send(nameReply(id, [{ filename: target.virtual, longname: target.virtual }]));
};

export const readlink: Handler = (session, id, r) => {
  const target = session.ctx.home.resolve(r.path());
  const link = fs.readlinkSync(target.real);
  const shown = path.isAbsolute(link) ? session.ctx.home.toVirtual(link) : link;
  session.send(nameReply(id, [{ filename: shown, longname: shown }]));
};

export const symlink: Handler = () => {
  throw new SftpError(Status.PERMISSION_DENIED, 'symbolic links are not allowed');
};
