import crypto from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { StorageError } from './errors.js';

const read = promisify(fs.read);
const write = promisify(fs.write);
const ftruncate = promisify(fs.ftruncate);

/**
 * Whole-file work (hashing what a client did not stream in order, copying a file
 * an upload continues) goes a chunk at a time through the thread pool: the event
 * loop serves other sessions between chunks, and the work stops at the next chunk
 * once `signal` aborts (the session that asked for it ended).
 */
const CHUNK = 1024 * 1024;
const ZEROS = Buffer.alloc(CHUNK);

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new StorageError('ECANCELED', 'abandoned: the session ended');
}

/** The SHA-256 of the first `length` bytes of `fd`, continuing `hash` if given. */
export async function hashFd(fd: number, length: number, signal?: AbortSignal, hash = crypto.createHash('sha256')): Promise<crypto.Hash> {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(length, 1)));
  for (let at = 0; at < length;) {
    checkAborted(signal);
    const { bytesRead } = await read(fd, buf, 0, Math.min(buf.length, length - at), at);
    if (bytesRead === 0) throw new StorageError('EINVAL', `file shorter than expected (${at} of ${length} bytes)`);
    hash.update(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
  checkAborted(signal);
  return hash;
}

/**
 * Copies the first `length` bytes of `fromFd` to `toFd` (a new, empty file) and
 * returns their SHA-256. Chunks of zeros are not written, so the holes of a
 * sparse file stay holes instead of taking real space.
 */
export async function copyAndHash(fromFd: number, toFd: number, length: number, signal?: AbortSignal): Promise<crypto.Hash> {
  const hash = crypto.createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(length, 1)));
  for (let at = 0; at < length;) {
    checkAborted(signal);
    const { bytesRead } = await read(fromFd, buf, 0, Math.min(buf.length, length - at), at);
    if (bytesRead === 0) throw new StorageError('EINVAL', `file shorter than expected (${at} of ${length} bytes)`);
    const chunk = buf.subarray(0, bytesRead);
    hash.update(chunk);
    if (!chunk.equals(ZEROS.subarray(0, bytesRead))) {
      for (let done = 0; done < bytesRead;) done += (await write(toFd, chunk, done, bytesRead - done, at + done)).bytesWritten;
    }
    at += bytesRead;
  }
  checkAborted(signal);
  // Trailing zeros were not written: the size comes from here.
  await ftruncate(toFd, length);
  return hash;
}
