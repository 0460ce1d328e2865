import type { Logger } from 'pino';
import type { ServerChannel } from 'ssh2';
import type { Download } from '../../storage/download.js';
import type { Home, ResolvedPath } from '../../storage/home.js';
import type { Upload } from '../../storage/upload.js';
import { MAX_OPEN_HANDLES, MAX_PACKET_LENGTH, Packet, Status } from './constants.js';
import { toStatus } from './errors.js';
import { writableUpload } from './handlers/files.js';
import { handlers } from './handlers/index.js';
import { InputQueue } from './input-queue.js';
import { OpenRate } from './open-rate.js';
import { MalformedPacket, PacketReader } from './packet-reader.js';
import { statusReply } from './packet-writer.js';
import type { TransferJournal } from '../../transfers/transfer-journal.js';

export interface SessionContext {
  home: Home;
  accountName: string;
  sessionId: string;
  clientAddress: string;
  journal: TransferJournal;
  /** Files this session may open per second (transfers.session_rate); unlimited when not set. */
  openRate?: number;
  log: Logger;
  /** Coalesces the replies of one batch of requests into few TCP segments. */
  cork(): void;
  uncork(): void;
  /** The connection's (and account's) count of open handles: take() throws EMFILE at a limit. */
  handles?: { take(): void; release(n?: number): void };
}

export type OpenHandle =
  | {
      kind: 'upload';
      upload: Upload;
      /** The transfer-log row, recorded just after the client has its handle (see handlers/files.ts open). */
      transferId: Promise<number>;
      /** Set when that row could not be recorded: the upload can then only fail. */
      startError?: Error;
      busy: boolean;
    }
  | { kind: 'download'; download: Download; transferId: number }
  | { kind: 'dir'; dir: ResolvedPath; names: string[] | undefined; next: number };

interface IncomingWrite {
  id: number;
  upload: Upload | undefined;
  /** Where the data still to come goes. */
  offset: number;
  remaining: number;
  /** Set once the request has failed (bad handle, write error): the rest of its data is only read. */
  error: unknown;
}

/**
 * One SFTP subsystem channel: frames requests, dispatches each through the handler
 * table, and owns the open handles. Replies may leave out of order (they carry the
 * request id); requests are started in the order they arrive.
 */
export class SftpSession {
  private readonly input = new InputQueue();
  /** The WRITE whose data is arriving, if any (see beginWrite). */
  private incomingWrite: IncomingWrite | undefined;
  private initialised = false;
  private blocked = false;
  private ended = false;
  private readonly handles = new Map<string, OpenHandle>();
  private nextHandle = 1;
  /** In-flight async requests, awaited before the session's handles are cleaned up. */
  private readonly pending = new Set<Promise<void>>();
  /** Aborted when the session ends: work a request started (copying, hashing a file) stops with it. */
  private readonly ending = new AbortController();
  /** Paces OPEN: each is a transfer-log row (open-rate.ts). */
  readonly opens: OpenRate | undefined;

  constructor(
    private readonly channel: ServerChannel,
    readonly ctx: SessionContext,
  ) {
    this.opens = ctx.openRate ? new OpenRate(ctx.openRate) : undefined;
    channel.on('data', (chunk: Buffer) => this.onData(chunk));
    channel.on('close', () => void this.end('connection closed before the file was closed'));
    // The client sent EOF: finish our side too, or OpenSSH waits for our close forever.
    // scp reports failure unless the subsystem ends with exit status 0, as sftp-server does.
    channel.on('end', () => {
      void this.end('connection closed before the file was closed');
      channel.exit(0);
      channel.end();
    });
    channel.on('error', (err: Error) => ctx.log.debug({ err }, 'sftp channel error'));
  }

  /**
   * Sends a reply. Requests wait while the channel holds back any reply for want
   * of the peer's window: taking more would only pile up replies in memory (a
   * download's reads would be read ahead by megabytes, each buffer outliving a
   * young-generation collection). `onSent` runs once the channel has copied the
   * packet into SSH packets, so its buffer may be reused.
   */
  send(packet: Buffer, onSent?: () => void): void {
    if (this.ended) return;
    if (this.ctx.log.isLevelEnabled('trace')) this.ctx.log.trace({ reply: packet[4], id: packet.readUInt32BE(5), length: packet.length }, 'sftp reply');
    this.channel.write(packet, onSent ? () => (onSent(), this.onWritten()) : this.onWritten);
    if (this.channel.writableLength > 0) this.blocked = true;
  }

  private readonly onWritten = (): void => {
    if (!this.blocked || this.ended || this.channel.writableLength > 0) return;
    this.blocked = false;
    this.processBuffered();
    if (!this.blocked) this.channel.resume();
  };

  sendStatus(id: number, code: Status, message?: string): void {
    this.send(statusReply(id, code, message));
  }

  addHandle(handle: OpenHandle): Buffer {
    if (this.handles.size >= MAX_OPEN_HANDLES) {
      throw Object.assign(new Error('too many open handles'), { code: 'EMFILE' });
    }
    this.ctx.handles?.take();
    const key = String(this.nextHandle++);
    this.handles.set(key, handle);
    return Buffer.from(key);
  }

  getHandle(raw: Buffer): OpenHandle | undefined {
    return this.handles.get(raw.toString('latin1'));
  }

  removeHandle(raw: Buffer): void {
    if (this.handles.delete(raw.toString('latin1'))) this.ctx.handles?.release();
  }

  private onData(chunk: Buffer): void {
    this.input.push(chunk);
    this.processBuffered();
  }

  /** Takes requests off the input while the channel accepts our replies. */
  private processBuffered(): void {
    if (this.ended) return;
    this.ctx.cork();
    try {
      while (!this.blocked && !this.ended) {
        if (this.incomingWrite) {
          if (!this.continueWrite(this.incomingWrite)) break;
          continue;
        }
        if (this.input.length < 4) break;
        const length = this.input.peek(4).readUInt32BE(0);
        if (length < 5 || length > MAX_PACKET_LENGTH) {
          // The stream cannot be re-synchronised after a bad length: end this session only.
          this.ctx.log.warn({ length }, 'sftp packet length out of range; closing the session');
          this.channel.end();
          void this.end(`protocol error: packet length ${length} out of range`);
          return;
        }
        if (!this.input.contiguous(4 + length) && this.initialised && this.beginWrite(length)) continue;
        if (this.input.length < 4 + length) break;
        this.dispatch(this.input.takeWhole(4 + length), 4, 4 + length);
      }
      if (this.blocked) this.channel.pause();
    } finally {
      this.ctx.uncork();
    }
  }

  /**
   * A WRITE that spans channel reads (the usual case for large writes) goes to
   * the file piece by piece as its data arrives: nothing is joined, and no
   * buffer waits for the rest of the request. With hundreds of sessions each
   * half-way through a large WRITE, waiting buffers would outlive young-generation
   * collections and pile up in the old one. Returns false, taking nothing,
   * unless the input starts with such a WRITE's whole header.
   */
  private beginWrite(length: number): boolean {
    if (this.input.length < 13) return false;
    const head = this.input.peek(13);
    if (head[4] !== Packet.WRITE) return false;
    const handleLength = head.readUInt32BE(9);
    const headerLength = 13 + handleLength + 8 + 4;
    if (handleLength > 256 || this.input.length < headerLength) return false;
    const header = this.input.peek(headerLength);
    const dataLength = header.readUInt32BE(headerLength - 4);
    // Fields that do not add up to the packet's length: handled whole, as malformed.
    if (headerLength + dataLength !== 4 + length) return false;
    const id = header.readUInt32BE(5);
    const write: IncomingWrite = { id, upload: undefined, offset: 0, remaining: dataLength, error: undefined };
    try {
      // An offset beyond 2^53 is malformed: its data is read, then answered BAD_MESSAGE.
      write.offset = new PacketReader(header, 13 + handleLength, headerLength - 4).uint64();
      write.upload = writableUpload(this, header.subarray(13, 13 + handleLength));
    } catch (err) {
      write.error = err;
    }
    this.input.take(headerLength);
    if (this.ctx.log.isLevelEnabled('trace')) this.ctx.log.trace({ type: Packet.WRITE, id, length: dataLength }, 'sftp request');
    this.incomingWrite = write;
    return true;
  }

  /**
   * Writes what has arrived of the current WRITE's data; once all of it is
   * written (or, after an error, read), replies and returns true.
   */
  private continueWrite(write: IncomingWrite): boolean {
    if (write.remaining > 0 && this.input.length === 0) return false;
    const parts = this.input.take(write.remaining);
    let n = 0;
    for (const part of parts) n += part.length;
    if (write.error === undefined && n > 0) {
      try {
        write.upload!.writev(write.offset, parts);
      } catch (err) {
        // The rest of the data is still read off the channel; the reply reports the error.
        write.error = err;
      }
    }
    write.offset += n;
    write.remaining -= n;
    if (write.remaining > 0) return false;
    this.incomingWrite = undefined;
    if (write.error === undefined) this.sendStatus(write.id, Status.OK);
    else this.fail(write.id, write.error);
    return true;
  }

  private dispatch(buf: Buffer, start: number, end: number): void {
    const type = buf[start]!;
    const reader = new PacketReader(buf, start + 1, end);
    if (type === Packet.INIT) {
      void handlers[Packet.INIT]!(this, 0, reader); // synchronous: it only replies with our version
      this.initialised = true;
      return;
    }
    let id = 0;
    try {
      id = reader.uint32();
      if (!this.initialised) throw new MalformedPacket('request before SSH_FXP_INIT');
      if (this.ctx.log.isLevelEnabled('trace')) this.ctx.log.trace({ type, id }, 'sftp request');
      const handler = handlers[type];
      if (!handler) {
        this.sendStatus(id, Status.OP_UNSUPPORTED, `unsupported request type ${type}`);
        return;
      }
      const result = handler(this, id, reader);
      if (result) this.track(id, result);
    } catch (err) {
      this.fail(id, err);
    }
  }

  private track(id: number, work: Promise<void>): void {
    const tracked = work.catch((err) => this.fail(id, err)).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private fail(id: number, err: unknown): void {
    if (err instanceof MalformedPacket) {
      this.ctx.log.warn({ id, reason: err.message }, 'malformed sftp request');
      this.sendStatus(id, Status.BAD_MESSAGE, err.message);
      return;
    }
    const [code, message] = toStatus(err);
    if (code === Status.FAILURE && message === 'Failure') this.ctx.log.error({ err, id }, 'sftp request failed');
    this.sendStatus(id, code, message);
  }

  /** Ends the session: open uploads keep their partial data and are logged aborted. */
  async end(reason: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.input.clear();
    this.incomingWrite = undefined;
    // Nobody waits for the answers any more: long requests give up before they are awaited.
    this.ending.abort();
    await Promise.allSettled([...this.pending]);
    const finishing: Promise<void>[] = [];
    for (const handle of this.handles.values()) {
      if (handle.kind === 'upload') {
        const bytes = handle.upload.currentSize;
        handle.upload.abandon();
        // No row to finish when recording the start failed (already logged then).
        const finish = (id: number) => this.ctx.journal.finish(id, { status: 'aborted', bytes, wholeFile: false, error: reason });
        finishing.push(handle.transferId.then(finish, () => {}));
      } else if (handle.kind === 'download') {
        const done = handle.download.close();
        finishing.push(
          this.ctx.journal.finish(handle.transferId, {
            status: done.complete ? 'completed' : 'aborted',
            bytes: done.bytes,
            startOffset: done.startOffset,
            sha256: done.sha256,
            wholeFile: done.wholeFile,
            error: done.complete ? null : reason,
          }),
        );
      }
    }
    this.ctx.handles?.release(this.handles.size);
    this.handles.clear();
    const results = await Promise.allSettled(finishing);
    for (const r of results) {
      if (r.status === 'rejected') this.ctx.log.error({ err: r.reason }, 'could not record the end of a transfer');
    }
  }

  /** Server-side close (shutdown): records open transfers, then closes the channel. */
  async close(reason: string): Promise<void> {
    await this.end(reason);
    this.channel.end();
  }

  /** Aborts when the session ends. */
  get signal(): AbortSignal {
    return this.ending.signal;
  }

  get openTransfers(): number {
    let n = 0;
    for (const h of this.handles.values()) if (h.kind !== 'dir') n++;
    return n;
  }
}
