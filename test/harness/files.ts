import crypto from 'node:crypto';
import fs from 'node:fs';

export function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Writes `size` bytes of deterministic pseudo-random data (fast: one block repeated with a counter). */
export function writeRandomFile(file: string, size: number, seed = 1): string {
  const block = crypto.createHash('sha512').update(String(seed)).digest();
  const chunk = Buffer.alloc(Math.min(size, 1 << 20));
  for (let i = 0; i < chunk.length; i += block.length) block.copy(chunk, i);
  const fd = fs.openSync(file, 'w');
  let written = 0;
  let counter = 0;
  while (written < size) {
    chunk.writeUInt32BE(counter++, 0);
    chunk.writeUInt32BE(seed, 4);
    const n = Math.min(chunk.length, size - written);
    fs.writeSync(fd, chunk, 0, n);
    written += n;
  }
  fs.closeSync(fd);
  return sha256File(file);
}
