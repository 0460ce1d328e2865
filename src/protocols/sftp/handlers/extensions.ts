import fs from 'node:fs';
import { MAX_OPEN_HANDLES, MAX_PACKET_LENGTH, MAX_READ_LENGTH, MAX_WRITE_LENGTH, SFTP_VERSION, Status } from '../constants.js';
import { SftpError } from '../errors.js';
import type { PacketReader } from '../packet-reader.js';
import { extendedReplyUint64s, nameReply, versionReply } from '../packet-writer.js';
import type { SftpSession } from '../session.js';
import { posixRename } from './paths.js';
import type { Handler } from './types.js';

function statvfsReply(session: SftpSession, id: number, real: string): void {
  const s = fs.statfsSync(real);
  session.send(extendedReplyUint64s(id, [s.bsize, s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.ffree, 0, 0, 255]));
}

type Extension = (session: SftpSession, id: number, r: PacketReader) => void | Promise<void>;

/** The OpenSSH extensions we implement, by name, with the version string we advertise. */
const EXTENSIONS: Record<string, { version: string; run: Extension }> = {
  'posix-rename@openssh.com': {
    version: '1',
    run: (session, id, r) => posixRename(session, id, r.path(), r.path()),
  },
  'statvfs@openssh.com': {
    version: '2',
    run: (session, id, r) => statvfsReply(session, id, session.ctx.home.resolve(r.path()).real),
  },
  'fstatvfs@openssh.com': {
    version: '2',
    run: (session, id, r) => {
      const handle = session.getHandle(r.bytes());
      if (!handle) throw new SftpError(Status.FAILURE, 'invalid handle');
      statvfsReply(session, id, session.ctx.home.root);
    },
  },
  'hardlink@openssh.com': {
    version: '1',
    run: (session, id, r) => {
      const source = session.ctx.home.resolve(r.path());
      const target = session.ctx.home.resolve(r.path());
      fs.linkSync(source.real, target.real);
      session.sendStatus(id, Status.OK);
    },
  },
  'fsync@openssh.com': {
    version: '1',
    run: async (session, id, r) => {
      const handle = session.getHandle(r.bytes());
      if (!handle) throw new SftpError(Status.FAILURE, 'invalid handle');
      if (handle.kind === 'upload') await handle.upload.sync();
      session.sendStatus(id, Status.OK);
    },
  },
  'limits@openssh.com': {
    version: '1',
    run: (session, id) => session.send(extendedReplyUint64s(id, [MAX_PACKET_LENGTH, MAX_READ_LENGTH, MAX_WRITE_LENGTH, MAX_OPEN_HANDLES])),
  },
  'expand-path@openssh.com': {
    version: '1',
    run: (session, id, r) => {
      const requested = r.path().replace(/^~(\/|$)/, '/');
      const target = session.ctx.home.resolve(requested);
      session.send(nameReply(id, [{ filename: target.virtual, longname: target.virtual }]));
    },
  },
};

export const init: Handler = (session, _id, r) => {
  const clientVersion = r.uint32();
  session.ctx.log.debug({ clientVersion }, 'sftp init');
  const advertised = Object.entries(EXTENSIONS).map(([name, e]) => [name, e.version] as [string, string]);
  session.send(versionReply(SFTP_VERSION, advertised));
};

export const extended: Handler = (session, id, r) => {
  const name = r.string();
  const extension = EXTENSIONS[name];
  if (!extension) {
    session.sendStatus(id, Status.OP_UNSUPPORTED, `unsupported extension ${name}`);
    return;
  }
  return extension.run(session, id, r);
};
