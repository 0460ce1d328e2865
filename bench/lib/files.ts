/** Source files for the scenarios and checks of what arrived on the server. */
import crypto from 'node:crypto';
import fs from 'node:fs';

const CHUNK = 4 * 1024 * 1024;

/**
 * Writes `size` bytes of seeded pseudo-random data (an AES-CTR key stream, so no
 * two SFTP write blocks of a file are alike and a misplaced block changes the
 * hash) and returns its SHA-256. The test harness's writeRandomFile repeats a
 * 64-byte block, which cannot tell such blocks apart.
 */
export function writeNoiseFile(file: string, size: number, seed: number): string {
  const key = crypto.createHash('sha256').update(`ferry-bench-${seed}`).digest().subarray(0, 16);
  const cipher = crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(Math.min(CHUNK, size));
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'w');
  try {
    for (let written = 0; written < size;) {
      const n = Math.min(zeros.length, size - written);
      const data = cipher.update(zeros.subarray(0, n));
      fs.writeSync(fd, data);
      hash.update(data);
      written += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** SHA-256 of a file, read in chunks (files here are up to 1 GiB). */
export function sha256Of(file: string): string {
  const hash = crypto.createHash('sha256');
  const buffer = Buffer.allocUnsafe(CHUNK);
  const fd = fs.openSync(file, 'r');
  try {
    // Bounded by the file size: every pass but the last reads a whole chunk.
    for (let n = fs.readSync(fd, buffer); n > 0; n = fs.readSync(fd, buffer)) hash.update(buffer.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Throws unless `file` exists with the expected size and SHA-256. */
export function expectFile(file: string, size: number, sha256: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new Error(`${file} is missing`);
  }
  if (st.size !== size) throw new Error(`${file} has ${st.size} bytes, expected ${size}`);
  const actual = sha256Of(file);
  if (actual !== sha256) throw new Error(`${file} has SHA-256 ${actual}, expected ${sha256}`);
}
