import fs from 'node:fs';
import ssh2 from '../../src/ssh2/library.js';
import type { Client as Ssh2Client, ClientChannel } from 'ssh2';

const { Client } = ssh2;

export interface Reply {
  type: number;
  id: number;
  /** For STATUS replies. */
  code?: number;
  message?: string;
  body: Buffer;
}

export function str(value: string | Buffer): Buffer {
  const b = typeof value === 'string' ? Buffer.from(value) : value;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

export function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
}

/**
 * A deliberately low-level SFTP client for sending what real clients never send:
 * malformed, oversized or out-of-order requests. It speaks over a real SSH channel.
 */
export class RawSftp {
  private buffer = Buffer.alloc(0);
  private waiting = new Map<number, (r: Reply) => void>();
  private nextId = 100;
  closed = false;
  readonly version: Promise<Reply>;
  private versionResolve!: (r: Reply) => void;

  private constructor(
    readonly conn: Ssh2Client,
    readonly channel: ClientChannel,
  ) {
    this.version = new Promise((r) => (this.versionResolve = r));
    channel.on('data', (d: Buffer) => this.onData(d));
    channel.on('close', () => (this.closed = true));
  }

  static connect(port: number, user: string, keyFile: string): Promise<RawSftp> {
    return new Promise((resolve, reject) => {
      const conn = new Client();
      conn.on('error', reject);
      conn.on('ready', () => {
        conn.subsys('sftp', (err, channel) => {
          if (err) return reject(err);
          const raw = new RawSftp(conn, channel);
          raw.sendRaw(Buffer.concat([u32(5), Buffer.from([1]), u32(3)]));
          resolve(raw);
        });
      });
      conn.connect({ host: '127.0.0.1', port, username: user, privateKey: fs.readFileSync(keyFile) });
    });
  }

  /** One more SFTP channel on the same SSH connection (initialised; await its version). */
  openChannel(): Promise<RawSftp> {
    return new Promise((resolve, reject) => {
      this.conn.subsys('sftp', (err, channel) => {
        if (err) return reject(err);
        const raw = new RawSftp(this.conn, channel);
        raw.sendRaw(Buffer.concat([u32(5), Buffer.from([1]), u32(3)]));
        resolve(raw);
      });
    });
  }

  private onData(d: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, d]);
    while (this.buffer.length >= 4) {
      const len = this.buffer.readUInt32BE(0);
      if (this.buffer.length < 4 + len) return;
      const packet = this.buffer.subarray(4, 4 + len);
      this.buffer = this.buffer.subarray(4 + len);
      const type = packet[0]!;
      if (type === 2) {
        this.versionResolve({ type, id: 0, body: packet.subarray(1) });
        continue;
      }
      const id = packet.readUInt32BE(1);
      const reply: Reply = { type, id, body: packet.subarray(5) };
      if (type === 101) {
        reply.code = packet.readUInt32BE(5);
        const mlen = packet.readUInt32BE(9);
        reply.message = packet.subarray(13, 13 + mlen).toString();
      }
      this.waiting.get(id)?.(reply);
      this.waiting.delete(id);
    }
  }

  sendRaw(bytes: Buffer): void {
    this.channel.write(bytes);
  }

  /** Sends type + id + fields as one packet and waits for the reply with that id. */
  request(type: number, ...fields: Buffer[]): Promise<Reply> {
    const { packet, reply } = this.prepare(type, fields);
    this.sendRaw(packet);
    return reply;
  }

  /**
   * Like request, but the packet leaves in `pieces` channel writes `gapMs` apart;
   * `between` runs after each piece but the last. The reply says whether it came early.
   */
  async requestInPieces(
    type: number,
    fields: Buffer[],
    pieces: number,
    gapMs: number,
    between?: (piece: number) => void | Promise<void>,
  ): Promise<Reply & { early: boolean }> {
    const { packet, reply } = this.prepare(type, fields);
    let sent = 0;
    const answered = reply.then((r) => ({ ...r, early: sent < pieces }));
    const size = Math.ceil(packet.length / pieces);
    for (let i = 0; i < pieces; i++) {
      this.sendRaw(packet.subarray(i * size, (i + 1) * size));
      sent++;
      if (i < pieces - 1) {
        await new Promise((r) => setTimeout(r, gapMs));
        await between?.(i + 1);
      }
    }
    return answered;
  }

  private prepare(type: number, fields: Buffer[]): { packet: Buffer; reply: Promise<Reply> } {
    const id = this.nextId++;
    const body = Buffer.concat([Buffer.from([type]), u32(id), ...fields]);
    const reply = new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to request ${id} (type ${type})`)), 10_000);
      this.waiting.set(id, (r) => (clearTimeout(timer), resolve(r)));
    });
    return { packet: Buffer.concat([u32(body.length), body]), reply };
  }

  /** Opens a file and returns its handle (throws on a STATUS reply). */
  async open(path: string | Buffer, flags: number): Promise<Buffer> {
    const reply = await this.request(3, str(path), u32(flags), u32(0));
    if (reply.type !== 102) throw new Error(`open failed: ${reply.code} ${reply.message}`);
    return reply.body.subarray(4, 4 + reply.body.readUInt32BE(0));
  }

  end(): void {
    this.conn.end();
  }
}

export const FX = { OK: 0, EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, BAD_MESSAGE: 5, OP_UNSUPPORTED: 8 };
export const PKT = {
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  STAT: 17,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  REALPATH: 16,
  RENAME: 18,
  SYMLINK: 20,
  EXTENDED: 200,
};
export const OPEN_FLAGS = { READ: 1, WRITE: 2, APPEND: 4, CREAT: 8, TRUNC: 16, EXCL: 32 };
