import type { Stats } from 'node:fs';
import { AttrFlag, Packet, Status } from './constants.js';

/** Builds one reply packet; sizes are computed first so each reply is one allocation. */
class Builder {
  readonly buf: Buffer;
  private pos = 4;

  constructor(bodyLength: number) {
    this.buf = Buffer.allocUnsafe(4 + bodyLength);
    this.buf.writeUInt32BE(bodyLength, 0);
  }
  uint8(v: number): this {
    this.buf[this.pos++] = v;
    return this;
  }
  uint32(v: number): this {
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }
  uint64(v: number): this {
    this.buf.writeUInt32BE(Math.floor(v / 0x1_0000_0000), this.pos);
    this.buf.writeUInt32BE(v >>> 0, this.pos + 4);
    this.pos += 8;
    return this;
  }
  bytes(b: Buffer): this {
    this.uint32(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
    return this;
  }
}

const ATTR_FLAGS = AttrFlag.SIZE | AttrFlag.UIDGID | AttrFlag.PERMISSIONS | AttrFlag.ACMODTIME;
const ATTRS_LENGTH = 4 + 8 + 8 + 4 + 8;

function putAttrs(b: Builder, st: Stats): void {
  b.uint32(ATTR_FLAGS)
    .uint64(st.size)
    .uint32(st.uid)
    .uint32(st.gid)
    .uint32(st.mode)
    .uint32(Math.floor(st.atimeMs / 1000))
    .uint32(Math.floor(st.mtimeMs / 1000));
}

const DEFAULT_MESSAGES: Record<number, string> = {
  [Status.OK]: 'Success',
  [Status.EOF]: 'End of file',
  [Status.NO_SUCH_FILE]: 'No such file',
  [Status.PERMISSION_DENIED]: 'Permission denied',
  [Status.FAILURE]: 'Failure',
  [Status.BAD_MESSAGE]: 'Bad message',
  [Status.OP_UNSUPPORTED]: 'Operation unsupported',
};

const DEFAULT_TEXT = new Map(Object.entries(DEFAULT_MESSAGES).map(([code, text]) => [Number(code), Buffer.from(text)]));

export function statusReply(id: number, code: Status, message?: string): Buffer {
  const text = message !== undefined ? Buffer.from(message) : (DEFAULT_TEXT.get(code) ?? Buffer.from('Failure'));
  return new Builder(1 + 4 + 4 + 4 + text.length + 4).uint8(Packet.STATUS).uint32(id).uint32(code).bytes(text).bytes(Buffer.alloc(0)).buf;
}

export function handleReply(id: number, handle: Buffer): Buffer {
  return new Builder(1 + 4 + 4 + handle.length).uint8(Packet.HANDLE).uint32(id).bytes(handle).buf;
}

/**
 * Buffers of DATA replies the channel has copied out, for the next replies: a
 * 1 GiB download otherwise allocates 1 GiB of buffers, and that much external
 * memory keeps V8's collector busy. A few suffice, reads being answered one by one.
 */
const spares: Buffer[] = [];
const MAX_SPARES = 4;

/**
 * A DATA reply whose payload is filled in place by the caller: returns the packet
 * and the region to read file bytes into, so a download makes no extra copy.
 * Hand the packet back with reuseDataReply once the channel is done with it.
 */
export function dataReplyBuffer(id: number, maxLength: number): { packet: Buffer; payloadOffset: number } {
  const size = 4 + 1 + 4 + 4 + maxLength;
  const spare = spares.pop();
  const packet = spare !== undefined && spare.length >= size ? spare : Buffer.allocUnsafe(size);
  packet[4] = Packet.DATA;
  packet.writeUInt32BE(id, 5);
  return { packet, payloadOffset: 13 };
}

export function reuseDataReply(packet: Buffer): void {
  if (spares.length < MAX_SPARES) spares.push(packet);
}

/** Trims a DATA reply made by dataReplyBuffer to the bytes actually read. */
export function finishDataReply(packet: Buffer, length: number): Buffer {
  packet.writeUInt32BE(1 + 4 + 4 + length, 0);
  packet.writeUInt32BE(length, 9);
  return packet.subarray(0, 13 + length);
}

export function attrsReply(id: number, st: Stats): Buffer {
  const b = new Builder(1 + 4 + ATTRS_LENGTH).uint8(Packet.ATTRS).uint32(id);
  putAttrs(b, st);
  return b.buf;
}

export interface NameEntry {
  filename: string;
  longname: string;
  stats?: Stats;
}

export function nameReply(id: number, entries: NameEntry[]): Buffer {
  const encoded = entries.map((e) => ({ f: Buffer.from(e.filename), l: Buffer.from(e.longname), s: e.stats }));
  const length = encoded.reduce((n, e) => n + 8 + e.f.length + e.l.length + (e.s ? ATTRS_LENGTH : 4), 1 + 4 + 4);
  const b = new Builder(length).uint8(Packet.NAME).uint32(id).uint32(entries.length);
  for (const e of encoded) {
    b.bytes(e.f).bytes(e.l);
    if (e.s) putAttrs(b, e.s);
    else b.uint32(0);
  }
  return b.buf;
}

export function versionReply(version: number, extensions: Array<[string, string]>): Buffer {
  const parts = extensions.map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const);
  const length = parts.reduce((n, [k, v]) => n + 8 + k.length + v.length, 1 + 4);
  const b = new Builder(length).uint8(Packet.VERSION).uint32(version);
  for (const [k, v] of parts) b.bytes(k).bytes(v);
  return b.buf;
}

/** SSH_FXP_EXTENDED_REPLY carrying a list of uint64 values (statvfs, limits). */
export function extendedReplyUint64s(id: number, values: number[]): Buffer {
  const b = new Builder(1 + 4 + 8 * values.length).uint8(Packet.EXTENDED_REPLY).uint32(id);
  for (const v of values) b.uint64(v);
  return b.buf;
}
