import type { randomFillSync } from 'node:crypto';

/** Requests up to this size are served from the pool (SSH padding is 4 to 255 bytes). */
const MAX_POOLED = 255;
const POOL_SIZE = 16 * 1024;

/**
 * randomFillSync for the small fills of SSH packet padding: bytes from a
 * buffer that the real randomFillSync refills 16 KiB at a time, each byte
 * handed out once. Anything else (larger fills, other argument shapes) goes
 * straight to the real function.
 */
export class PaddingPool {
  private readonly pool = Buffer.allocUnsafe(POOL_SIZE);
  private next = POOL_SIZE;

  constructor(private readonly realFill: typeof randomFillSync) {}

  readonly fill = <T extends NodeJS.ArrayBufferView>(buffer: T, offset?: number, size?: number): T => {
    if (!Buffer.isBuffer(buffer) || !Number.isInteger(offset) || !Number.isInteger(size)) return this.realFill(buffer, offset, size);
    const at = offset!;
    const n = size!;
    if (n > MAX_POOLED || at < 0 || n < 0 || at + n > buffer.length) return this.realFill(buffer, offset, size);
    if (this.next + n > POOL_SIZE) {
      this.realFill(this.pool);
      this.next = 0;
    }
    this.pool.copy(buffer, at, this.next, this.next + n);
    this.next += n;
    return buffer;
  };
}
