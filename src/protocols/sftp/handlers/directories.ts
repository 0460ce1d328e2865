import fs from 'node:fs';
import path from 'node:path';
import { READDIR_BATCH, Status } from '../constants.js';
import { SftpError } from '../errors.js';
import { longname } from '../longname.js';
import { handleReply, nameReply, type NameEntry } from '../packet-writer.js';
import type { Handler } from './types.js';

export const opendir: Handler = (session, id, r) => {
  const dir = session.ctx.home.resolve(r.path());
  if (!fs.statSync(dir.real).isDirectory()) throw new SftpError(Status.FAILURE, 'Not a directory');
  session.send(handleReply(id, session.addHandle({ kind: 'dir', dir, names: undefined, next: 0 })));
};

export const readdir: Handler = (session, id, r) => {
  const handle = session.getHandle(r.bytes());
  if (!handle || handle.kind !== 'dir') throw new SftpError(Status.FAILURE, 'invalid directory handle');
  handle.names ??= ['.', '..', ...fs.readdirSync(handle.dir.real)];
  const entries: NameEntry[] = [];
  const owner = session.ctx.accountName;
  while (handle.next < handle.names.length && entries.length < READDIR_BATCH) {
    const name = handle.names[handle.next++]!;
    try {
      const stats = name === '..' && handle.dir.virtual === '/' ? fs.statSync(handle.dir.real) : fs.lstatSync(path.join(handle.dir.real, name));
      entries.push({ filename: name, longname: longname(name, stats, owner), stats });
    } catch {
      // Removed between readdir and lstat: skip it, as ls does.
    }
  }
  if (entries.length === 0) session.sendStatus(id, Status.EOF);
  else session.send(nameReply(id, entries));
};

export const mkdir: Handler = (session, id, r) => {
  const dir = session.ctx.home.resolve(r.path());
  const attrs = r.attrs();
  fs.mkdirSync(dir.real, { mode: session.ctx.home.newMode(attrs.permissions, 0o777) });
  session.sendStatus(id, Status.OK);
};

export const rmdir: Handler = (session, id, r) => {
  const dir = session.ctx.home.resolve(r.path());
  if (dir.virtual === '/') throw new SftpError(Status.PERMISSION_DENIED, 'cannot remove the home directory');
  fs.rmdirSync(dir.real);
  session.sendStatus(id, Status.OK);
};
