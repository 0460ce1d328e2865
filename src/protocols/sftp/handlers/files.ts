import fs from 'node:fs';
import { Download } from '../../../storage/download.js';
import { Upload } from '../../../storage/upload.js';
import { MAX_READ_LENGTH, OpenFlag, Status } from '../constants.js';
import { SftpError } from '../errors.js';
import type { RequestAttrs } from '../packet-reader.js';
import { attrsReply, dataReplyBuffer, finishDataReply, handleReply, reuseDataReply } from '../packet-writer.js';
import type { OpenHandle, SftpSession } from '../session.js';
import type { Handler } from './types.js';

function requireHandle(session: SftpSession, raw: Buffer): OpenHandle {
  const handle = session.getHandle(raw);
  if (!handle) throw new SftpError(Status.FAILURE, 'invalid handle (closed or never opened)');
  return handle;
}

function journalEntry(session: SftpSession, path: string, direction: 'upload' | 'download', startOffset: number) {
  const { ctx } = session;
  return {
    sessionId: ctx.sessionId,
    account: ctx.accountName,
    protocol: 'sftp',
    clientAddress: ctx.clientAddress,
    path,
    direction,
    startOffset,
  };
}

export const open: Handler = async (session, id, r) => {
  const clientPath = r.path();
  const flags = r.uint32();
  const attrs = r.attrs();
  const target = session.ctx.home.resolve(clientPath);
  const waitMs = session.opens ? session.opens.take() : 0;
  if (waitMs === undefined) throw new SftpError(Status.FAILURE, 'too many files opened too fast: slow down');
  if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
  if (flags & (OpenFlag.WRITE | OpenFlag.APPEND)) {
    const upload = await Upload.open(
      session.ctx.home,
      target,
      {
        truncate: (flags & OpenFlag.TRUNC) !== 0,
        append: (flags & OpenFlag.APPEND) !== 0,
        exclusive: (flags & OpenFlag.CREAT) !== 0 && (flags & OpenFlag.EXCL) !== 0,
        create: (flags & OpenFlag.CREAT) !== 0,
        mode: attrs.permissions,
      },
      session.signal,
    );
    // transferId is set once the handle exists: recording the start may mark the handle failed.
    const handle: OpenHandle = { kind: 'upload', upload, transferId: Promise.resolve(0), busy: false };
    try {
      session.send(handleReply(id, session.addHandle(handle)));
    } catch (err) {
      upload.abandon();
      throw err;
    }
    handle.transferId = recordStart(session, handle, target.virtual);
    // Its failure is logged there and reported by the handle's next request, not as an unhandled rejection.
    handle.transferId.catch(() => {});
    return;
  }
  const download = Download.open(target);
  let transferId: number;
  try {
    const known = await session.ctx.journal.knownSha256(session.ctx.accountName, target.virtual, download.stamp);
    if (known) download.useKnownHash(known);
    transferId = await session.ctx.journal.start(journalEntry(session, target.virtual, 'download', 0));
  } catch (err) {
    download.close();
    throw err;
  }
  session.send(handleReply(id, session.addHandle({ kind: 'download', download, transferId })));
};

/** Lets the replies sent so far leave before the caller goes on (they are corked until the tick ends). */
const afterReplies = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Records an upload's transfer-log row after its handle reply has left, so the
 * client sends its first data while the database works; the row is in place
 * before the upload can complete (close awaits it). If it cannot be recorded,
 * the upload fails at its next request.
 */
async function recordStart(session: SftpSession, handle: OpenHandle & { kind: 'upload' }, path: string): Promise<number> {
  const { journal, log } = session.ctx;
  const { upload } = handle;
  try {
    await afterReplies();
    const transferId = await journal.start(journalEntry(session, path, 'upload', upload.startOffset));
    log.info({ path, transferId, offset: upload.startOffset }, 'upload started');
    return transferId;
  } catch (err) {
    log.error({ err, path }, 'could not record the start of an upload');
    handle.startError = new SftpError(Status.FAILURE, 'the transfer could not be recorded');
    throw handle.startError;
  }
}

export const read: Handler = (session, id, r) => {
  const handle = requireHandle(session, r.bytes());
  const offset = r.uint64();
  const length = Math.min(r.uint32(), MAX_READ_LENGTH);
  if (handle.kind !== 'download') throw new SftpError(Status.FAILURE, 'handle is not open for reading');
  const { packet, payloadOffset } = dataReplyBuffer(id, length);
  const n = handle.download.read(offset, packet, payloadOffset, length);
  if (n === 0) {
    reuseDataReply(packet);
    session.sendStatus(id, Status.EOF);
  } else {
    session.send(finishDataReply(packet, n), () => reuseDataReply(packet));
  }
};

export const write: Handler = (session, id, r) => {
  const handle = r.bytes();
  const offset = r.uint64();
  const data = r.bytes();
  writableUpload(session, handle).writev(offset, [data]);
  session.sendStatus(id, Status.OK);
};

/** The upload a WRITE on this handle goes to; throws the request's error if it cannot take one. */
export function writableUpload(session: SftpSession, rawHandle: Buffer): Upload {
  const handle = requireHandle(session, rawHandle);
  if (handle.kind !== 'upload' || handle.busy) throw new SftpError(Status.FAILURE, 'handle is not open for writing');
  if (handle.startError) throw handle.startError;
  return handle.upload;
}

export const close: Handler = async (session, id, r) => {
  const raw = r.bytes();
  const handle = requireHandle(session, raw);
  session.removeHandle(raw);
  const { journal, log } = session.ctx;
  if (handle.kind === 'dir') {
    session.sendStatus(id, Status.OK);
    return;
  }
  if (handle.kind === 'download') {
    const done = handle.download.close();
    await journal.finish(handle.transferId, {
      status: done.complete ? 'completed' : 'aborted',
      bytes: done.bytes,
      startOffset: done.startOffset,
      sha256: done.sha256,
      wholeFile: done.wholeFile,
      fileStamp: done.complete ? done.stamp : undefined,
      error: done.complete ? null : `client closed the file after ${done.bytes} bytes`,
    });
    session.sendStatus(id, Status.OK);
    return;
  }
  handle.busy = true;
  const { upload } = handle;
  let transferId: number;
  try {
    transferId = await handle.transferId;
  } catch (err) {
    upload.abandon();
    throw err;
  }
  try {
    const done = await upload.commit(session.signal);
    await journal.completeUpload(transferId, {
      status: 'completed',
      bytes: done.bytes,
      sha256: done.sha256,
      fileStamp: done.stamp,
      // A resumed upload carried only the part after its offset.
      wholeFile: upload.startOffset === 0,
    });
    session.sendStatus(id, Status.OK);
    // Logged once the reply has left: the client's next request need not wait for it.
    const path = upload.target.virtual;
    setImmediate(() => log.info({ path, transferId, bytes: done.bytes, sha256: done.sha256 }, 'upload completed'));
  } catch (err) {
    log.warn({ err, path: upload.target.virtual, transferId }, 'upload failed at close');
    await journal.finish(transferId, { status: 'failed', bytes: upload.currentSize, wholeFile: false, error: (err as Error).message });
    throw err;
  }
};

export const fstat: Handler = (session, id, r) => {
  const handle = requireHandle(session, r.bytes());
  if (handle.kind === 'upload') session.send(attrsReply(id, handle.upload.stats()));
  else if (handle.kind === 'download') session.send(attrsReply(id, handle.download.stats()));
  else session.send(attrsReply(id, fs.statSync(handle.dir.real)));
};

export function refuseOwnerChange(attrs: RequestAttrs, current: fs.Stats): void {
  if ((attrs.uid !== undefined && attrs.uid !== current.uid) || (attrs.gid !== undefined && attrs.gid !== current.gid)) {
    throw new SftpError(Status.PERMISSION_DENIED, 'changing the owner or group is not supported');
  }
}

export const fsetstat: Handler = (session, id, r) => {
  const handle = requireHandle(session, r.bytes());
  const attrs = r.attrs();
  if (handle.kind !== 'upload') throw new SftpError(Status.PERMISSION_DENIED, 'handle is not open for writing');
  const { upload } = handle;
  refuseOwnerChange(attrs, upload.stats());
  if (attrs.size !== undefined) upload.truncate(attrs.size);
  if (attrs.permissions !== undefined) upload.setMode(attrs.permissions);
  if (attrs.atime !== undefined && attrs.mtime !== undefined) upload.setTimes(attrs.atime, attrs.mtime);
  session.sendStatus(id, Status.OK);
};
