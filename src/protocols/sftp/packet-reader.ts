import { isUtf8 } from 'node:buffer';
import { AttrFlag, Status } from './constants.js';
import { SftpError } from './errors.js';

/** A request whose fields do not fit its length: answered with SSH_FX_BAD_MESSAGE. */
export class MalformedPacket extends Error {}

export interface RequestAttrs {
  size?: number;
  uid?: number;
  gid?: number;
  permissions?: number;
  atime?: number;
  mtime?: number;
}

/** Reads the fields of one SFTP request, checking every length before use. */
export class PacketReader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new MalformedPacket('packet too short for its fields');
  }

  uint8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint64(): number {
    this.need(8);
    const hi = this.buf.readUInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    if (hi >= 0x200000) throw new MalformedPacket('64-bit value too large');
    return hi * 0x1_0000_0000 + lo;
  }

  /** A length-prefixed byte string; a view into the packet, not a copy. */
  bytes(): Buffer {
    const len = this.uint32();
    this.need(len);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(): string {
    return this.bytes().toString('utf8');
  }

  /**
   * A path; NUL bytes are refused here, so no file API ever sees one. So are bytes
   * that are not UTF-8: decoding would turn each into U+FFFD, and two different
   * names into one file.
   */
  path(): string {
    const raw = this.bytes();
    if (raw.includes(0)) throw new MalformedPacket('path contains a NUL byte');
    if (!isUtf8(raw)) throw new SftpError(Status.FAILURE, 'invalid file name encoding (file names must be UTF-8)');
    return raw.toString('utf8');
  }

  attrs(): RequestAttrs {
    const flags = this.uint32();
    const attrs: RequestAttrs = {};
    if (flags & AttrFlag.SIZE) attrs.size = this.uint64();
    if (flags & AttrFlag.UIDGID) {
      attrs.uid = this.uint32();
      attrs.gid = this.uint32();
    }
    if (flags & AttrFlag.PERMISSIONS) attrs.permissions = this.uint32();
    if (flags & AttrFlag.ACMODTIME) {
      attrs.atime = this.uint32();
      attrs.mtime = this.uint32();
    }
    if (flags & AttrFlag.EXTENDED) {
      const count = this.uint32();
      for (let i = 0; i < count; i++) {
        this.bytes();
        this.bytes();
      }
    }
    return attrs;
  }

  get remaining(): number {
    return this.end - this.pos;
  }
}
