/**
 * The ssh2 library, ready to use: import it only through this module.
 *
 * ssh2 pads every SSH packet it sends with random bytes, one randomFillSync
 * call per packet. Each call is a trip into OpenSSL's DRBG (with a getpid()
 * for its fork check), about 5 us per packet here: for a small file's three
 * SFTP replies, a tenth of the server's time per request. OpenSSH draws its
 * padding from a buffered keystream (arc4random_buf) instead. ssh2 takes
 * randomFillSync from the crypto module once, as it loads, so it is loaded
 * here with a pooled randomFillSync in place, and the crypto module gets its
 * own function back right after: only ssh2 sees the pool.
 *
 * Compressed packets are capped after they are inflated (capInflatedPackets).
 */
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import type ssh2Types from 'ssh2';
import { PaddingPool } from './padding-pool.js';

const require = createRequire(import.meta.url);

function loadSsh2(): typeof ssh2Types {
  const modulePath = require.resolve('ssh2');
  if (require.cache[modulePath]) throw new Error('ssh2 was loaded before ssh2/library.ts: import it only through that module');
  const real = crypto.randomFillSync;
  const pool = new PaddingPool(real);
  crypto.randomFillSync = pool.fill as typeof crypto.randomFillSync;
  try {
    return require('ssh2') as typeof ssh2Types;
  } finally {
    crypto.randomFillSync = real;
  }
}

/**
 * Largest SSH packet payload we inflate (OpenSSH's PACKET_MAX_SIZE). ssh2 lets
 * zlib@openssh.com inflate up to the largest Buffer: one 35 kB packet could
 * become 35 MB. Past this size zlib throws, and ssh2 closes the connection.
 */
export const MAX_INFLATED_PACKET = 256 * 1024;

function capInflatedPackets(): void {
  const zlib = require('ssh2/lib/protocol/zlib.js') as { ZlibPacketReader: { prototype: { read(data: Buffer): Buffer; _zlib: { _maxOutputLength: number } } } };
  const proto = zlib.ZlibPacketReader.prototype;
  const read = proto.read;
  proto.read = function (this: typeof proto, data: Buffer) {
    this._zlib._maxOutputLength = MAX_INFLATED_PACKET;
    return read.call(this, data);
  };
}

const ssh2 = loadSsh2();
capInflatedPackets();
export default ssh2;
