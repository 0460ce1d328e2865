/**
 * The bytes received on an SFTP channel and not yet handled, kept as the
 * channel's own chunks: they are joined only where a caller needs a field that
 * spans two of them, and then only the bytes of that field are copied.
 */
export class InputQueue {
  private chunks: Buffer[] = [];
  private bytes = 0;

  get length(): number {
    return this.bytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  clear(): void {
    this.chunks = [];
    this.bytes = 0;
  }

  /** Whether the first `n` bytes lie in one chunk (taking them needs no copy). */
  contiguous(n: number): boolean {
    return this.chunks.length > 0 && this.chunks[0]!.length >= n;
  }

  /**
   * A buffer starting with the first `n` bytes (n <= length), left in the
   * queue: the first chunk itself when they lie in it, else a copy of just them.
   */
  peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (const chunk of this.chunks) {
      filled += chunk.copy(out, filled, 0, Math.min(chunk.length, n - filled));
      if (filled === n) break;
    }
    return out;
  }

  /** Removes the first `n` bytes (n <= length) and returns them as one buffer. */
  takeWhole(n: number): Buffer {
    if (this.contiguous(n)) return this.take(n)[0] ?? Buffer.alloc(0);
    return Buffer.concat(this.take(n), n);
  }

  /** Removes up to `n` bytes from the front and returns them as views of the chunks they lie in. */
  take(n: number): Buffer[] {
    const parts: Buffer[] = [];
    let left = Math.min(n, this.bytes);
    this.bytes -= left;
    while (left > 0) {
      const chunk = this.chunks[0]!;
      if (chunk.length <= left) {
        parts.push(chunk);
        this.chunks.shift();
        left -= chunk.length;
      } else {
        parts.push(chunk.subarray(0, left));
        this.chunks[0] = chunk.subarray(left);
        left = 0;
      }
    }
    return parts;
  }
}
