import crypto from 'node:crypto';
import fs from 'node:fs';
import { fileStamp, stampOfFd } from './file-stamp.js';
import type { ResolvedPath } from './home.js';

/** A file open for reading; hashes what it serves when the client reads it in order from 0. */
export class Download {
  private hash: crypto.Hash | undefined = crypto.createHash('sha256');
  private hashedUpTo = 0;
  private served = 0;
  /** Bytes from 0 the client has read without a gap: the whole file once it reaches the size. */
  private readFromStart = 0;
  private firstOffset: number | undefined;
  private reachedEnd = false;
  private known: string | undefined;

  private constructor(
    readonly target: ResolvedPath,
    private fd: number,
    readonly size: number,
    /** The stamp when opened; a hash is only remembered for a file that did not change meanwhile. */
    readonly stamp: string,
  ) {}

  /** This version's SHA-256 is already known: serve without hashing, and report it when the file was read to the end. */
  useKnownHash(sha256: string): void {
    this.known = sha256;
    this.hash = undefined;
  }

  static open(target: ResolvedPath): Download {
    const fd = fs.openSync(target.real, fs.constants.O_RDONLY);
    const st = fs.fstatSync(fd, { bigint: true });
    if (st.isDirectory()) {
      fs.closeSync(fd);
      throw Object.assign(new Error('Is a directory'), { code: 'EISDIR' });
    }
    return new Download(target, fd, Number(st.size), fileStamp(st));
  }

  /** Reads into `into` at `at`; returns the byte count, 0 at end of file. */
  read(offset: number, into: Buffer, at: number, length: number): number {
    const n = fs.readSync(this.fd, into, at, length, offset);
    if (this.firstOffset === undefined) this.firstOffset = offset;
    if (n === 0) {
      this.reachedEnd = true;
      return 0;
    }
    this.served += n;
    if (offset <= this.readFromStart) this.readFromStart = Math.max(this.readFromStart, offset + n);
    if (this.hash) {
      if (offset === this.hashedUpTo) {
        this.hash.update(into.subarray(at, at + n));
        this.hashedUpTo += n;
      } else {
        this.hash = undefined;
      }
    }
    if (offset + n >= this.size) this.reachedEnd = true;
    return n;
  }

  stats(): fs.Stats {
    return fs.fstatSync(this.fd);
  }

  /**
   * Closes the file. `stamp` is set when the SHA-256 was computed over this whole,
   * unchanged version, so the next download of it can reuse the hash.
   */
  close(): { bytes: number; startOffset: number; complete: boolean; wholeFile: boolean; sha256: string | null; stamp?: string } {
    const whole = this.hash !== undefined && this.hashedUpTo === this.size;
    const unchanged = this.fd >= 0 && whole && stampOfFd(this.fd) === this.stamp;
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    const sha256 = this.known !== undefined ? (this.reachedEnd ? this.known : null) : whole ? this.hash!.digest('hex') : null;
    return {
      bytes: this.served,
      startOffset: this.firstOffset ?? 0,
      complete: this.reachedEnd,
      wholeFile: this.reachedEnd && this.readFromStart >= this.size,
      sha256,
      stamp: unchanged ? this.stamp : undefined,
    };
  }
}
