import crypto from 'node:crypto';
import { posix } from 'node:path';
import type { SftpPartner } from '../partners.js';
import { temporaryName, type Delivery, type DeliveryResult } from './connector.js';
import type { PartnerSftp } from './sftp-client.js';
import { hashPrefix, readChunks } from './source-file.js';

/** SSH_FXF_WRITE | SSH_FXF_CREAT: open for writing at offsets, keep what is there. */
const WRITE_KEEP = 0x02 | 0x08;
const WRITES_IN_FLIGHT = 32;

/**
 * Pushes a file to a partner over SFTP so that the partner never sees a half
 * file and a retry never sends twice: write to a temporary name, resume a partial
 * temporary file (its size, and its SHA-256 where the partner answers sha256sum),
 * fsync, then rename into place. A retry that finds the rename done sends nothing.
 */
export async function pushOverSftp(partner: SftpPartner, delivery: Delivery, remote: PartnerSftp): Promise<DeliveryResult> {
  const { source, signal } = delivery;
  const final = posix.join(partner.dir, delivery.targetName);
  const temp = posix.join(partner.dir, temporaryName(delivery.targetName, delivery.jobId));
  const destination = `${partner.host}:${partner.port}${final}`;
  await remote.ensureDir(partner.dir);
  const tempStats = await remote.stat(temp);
  if (delivery.checkpoint?.phase === 'renaming' && !tempStats) {
    // The temporary file was complete and is gone: the rename happened before the last
    // attempt could record it (the partner may even have taken the file away since).
    // Sending again would deliver it twice.
    const hash = crypto.createHash('sha256');
    await hashPrefix(source.absPath, source.size, hash, signal);
    delivery.log.info({ destination }, 'delivery already renamed into place by an earlier attempt');
    return { bytes: 0, sha256: hash.digest('hex'), destination, resumedAt: source.size };
  }

  let offset = tempStats && tempStats.size <= source.size ? tempStats.size : 0;
  const hash = crypto.createHash('sha256');
  if (offset > 0) {
    await hashPrefix(source.absPath, offset, hash, signal);
    const theirs = await remote.sha256(temp);
    if (theirs !== undefined && theirs !== hash.copy().digest('hex')) {
      delivery.log.warn({ destination, offset }, 'partial file at the partner differs from the source; sending it again');
      offset = 0;
      hash.destroy();
    }
  }
  const fullHash = offset > 0 ? hash : crypto.createHash('sha256');
  if (offset > 0) delivery.log.info({ destination, offset }, 'resuming the delivery');

  const handle = await remote.open(temp, offset > 0 ? WRITE_KEEP : 'w');
  try {
    await sendFrom(remote, handle, source.absPath, { start: offset, end: source.size }, fullHash, signal);
  } catch (err) {
    await remote.closeHandle(handle).catch(() => {});
    throw err;
  }
  await remote.fsync(handle);
  await remote.closeHandle(handle);
  const written = await remote.stat(temp);
  if (!written || written.size !== source.size) {
    throw new Error(`partner holds ${written?.size ?? 'no'} bytes of ${source.size} after the upload`);
  }
  await delivery.saveCheckpoint({ phase: 'renaming' });
  await remote.renameOver(temp, final);
  return { bytes: source.size - offset, sha256: fullHash.digest('hex'), destination, resumedAt: offset };
}

/** Writes [start, end) of a file, pipelined, in order and each within the server's write size: the partner's file is always a prefix of ours. */
async function sendFrom(
  remote: PartnerSftp,
  handle: Buffer,
  file: string,
  range: { start: number; end: number },
  hash: crypto.Hash,
  signal: AbortSignal,
): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  const pieceSize = remote.maxWriteLength;
  let failure: Error | undefined;
  await readChunks(
    file,
    range,
    hash,
    async (chunk, position) => {
      for (let at = 0; at < chunk.length; at += pieceSize) {
        if (failure) throw failure;
        const write = remote.write(handle, chunk.subarray(at, at + pieceSize), position + at).catch((err) => {
          failure ??= err as Error;
        });
        inFlight.add(write);
        void write.finally(() => inFlight.delete(write));
        if (inFlight.size >= WRITES_IN_FLIGHT) await Promise.race(inFlight);
      }
    },
    signal,
  );
  await Promise.all(inFlight);
  if (failure) throw failure;
}
