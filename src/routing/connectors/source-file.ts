import crypto from 'node:crypto';
import fs from 'node:fs';

/** The file a delivery sends: read in chunks, hashed as it goes. */
export interface SourceFile {
  absPath: string;
  /** The original file name (before any rename pattern). */
  name: string;
  size: number;
}

export const CHUNK_SIZE = 256 * 1024;

/**
 * Reads [start, end) of a file in order, feeding every chunk to the hash and to
 * `each` (which may return a promise to apply backpressure). Stops with the
 * signal's reason when it is aborted.
 */
export async function readChunks(
  file: string,
  range: { start: number; end: number },
  hash: crypto.Hash,
  each: (chunk: Buffer, position: number) => void | Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const handle = await fs.promises.open(file, 'r');
  try {
    let position = range.start;
    while (position < range.end) {
      signal.throwIfAborted();
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, range.end - position));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) throw new Error(`source file shrank while it was being sent (at byte ${position})`);
      const chunk = bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
      hash.update(chunk);
      await each(chunk, position);
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/** SHA-256 of the first `length` bytes of a file. */
export async function hashPrefix(file: string, length: number, hash: crypto.Hash, signal: AbortSignal): Promise<void> {
  await readChunks(file, { start: 0, end: length }, hash, () => {}, signal);
}
