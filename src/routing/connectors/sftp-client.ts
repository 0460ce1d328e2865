import type { ClientChannel, SFTPWrapper, Stats } from 'ssh2';
import ssh2 from '../../ssh2/library.js';
import { fingerprintOf } from '../../accounts/public-key.js';
import { PermanentJobError } from '../../queue/queue-runner.js';
import type { SftpPartner } from '../partners.js';

const { Client } = ssh2;
const CONNECT_TIMEOUT_MS = 20_000;
const NO_SUCH_FILE = 2;

/** An SFTP connection to a partner, with promise-returning calls. */
export class PartnerSftp {
  private closed = false;
  /** Directories this connection saw exist: a burst of deliveries checks each once. */
  private readonly knownDirs = new Set<string>();

  private constructor(
    private readonly client: InstanceType<typeof Client>,
    readonly sftp: SFTPWrapper,
  ) {
    client.on('close', () => (this.closed = true));
    client.on('error', () => (this.closed = true));
  }

  /** False once the connection dropped or was closed. */
  get usable(): boolean {
    return !this.closed;
  }

  /** Destroys the connection when `signal` aborts, until the returned function is called. */
  abortOn(signal: AbortSignal): () => void {
    const onAbort = () => this.destroy();
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    return () => signal.removeEventListener('abort', onAbort);
  }

  /**
   * Connects and logs in. The host key must equal the pinned one; when none is
   * pinned yet, the key seen now is handed to `pin` (trust on first use).
   */
  static async connect(partner: SftpPartner, pin: (hostKey: string) => Promise<void>, signal: AbortSignal): Promise<PartnerSftp> {
    const client = new Client();
    let seenKey: string | undefined;
    let mismatch: string | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      client.once('ready', resolve);
      // on, not once: a refused host key can be followed by the socket's ECONNRESET, which must not go unhandled.
      client.on('error', reject);
      client.once('close', () => reject(new Error('connection closed during login')));
    });
    const onAbort = () => client.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    client.connect({
      host: partner.host,
      port: partner.port,
      username: partner.username,
      password: partner.password,
      privateKey: partner.privateKey,
      readyTimeout: CONNECT_TIMEOUT_MS,
      keepaliveInterval: 10_000,
      hostVerifier: (key: Buffer) => {
        seenKey = key.toString('base64');
        if (partner.hostKey && partner.hostKey !== seenKey) {
          mismatch = `host key of ${partner.host}:${partner.port} changed: pinned ${fingerprintOf(Buffer.from(partner.hostKey, 'base64'))}, offered ${fingerprintOf(key)}`;
          return false;
        }
        return true;
      },
    });
    try {
      await ready;
    } catch (err) {
      client.destroy();
      if (mismatch) throw new PermanentJobError(mismatch);
      throw new Error(`cannot connect to ${partner.host}:${partner.port}: ${(err as Error).message}`, { cause: err });
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (!partner.hostKey && seenKey) await pin(seenKey);
    try {
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
      return new PartnerSftp(client, sftp);
    } catch (err) {
      client.destroy();
      throw new Error(`${partner.host}:${partner.port} refused the SFTP subsystem: ${(err as Error).message}`, { cause: err });
    }
  }

  close(): void {
    this.closed = true;
    this.client.end();
  }

  destroy(): void {
    this.closed = true;
    this.client.destroy();
  }

  async stat(path: string): Promise<Stats | undefined> {
    return new Promise((resolve, reject) =>
      this.sftp.stat(path, (err, stats) => {
        if (err && (err as any).code === NO_SUCH_FILE) resolve(undefined);
        else if (err) reject(err);
        else resolve(stats);
      }),
    );
  }

  open(path: string, flags: string | number): Promise<Buffer> {
    return new Promise((resolve, reject) => this.sftp.open(path, flags as any, (err, handle) => (err ? reject(err) : resolve(handle))));
  }

  /**
   * The largest WRITE the server takes in one request (limits@openssh.com, else
   * 32 KiB). ssh2 sends the rest of a larger write only after the first part is
   * answered, so pipelined large writes would reach the server out of order and a
   * crash would leave holes; callers keep every write within this size.
   */
  get maxWriteLength(): number {
    return (this.sftp as unknown as { _maxWriteLen?: number })._maxWriteLen ?? 32 * 1024;
  }

  write(handle: Buffer, data: Buffer, position: number): Promise<void> {
    return new Promise((resolve, reject) => this.sftp.write(handle, data, 0, data.length, position, (err) => (err ? reject(err) : resolve())));
  }

  read(handle: Buffer, buffer: Buffer, position: number): Promise<number> {
    return new Promise((resolve, reject) =>
      this.sftp.read(handle, buffer, 0, buffer.length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))),
    );
  }

  /** fsync@openssh.com where the server offers it; otherwise the server's close must do. */
  fsync(handle: Buffer): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.sftp.ext_openssh_fsync(handle, () => resolve());
      } catch {
        resolve();
      }
    });
  }

  closeHandle(handle: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.sftp.close(handle, (err) => (err ? reject(err) : resolve())));
  }

  /** Renames over an existing target: posix-rename@openssh.com, else remove + rename. */
  async renameOver(from: string, to: string): Promise<void> {
    const posix = await new Promise<boolean>((resolve, reject) => {
      try {
        this.sftp.ext_openssh_rename(from, to, (err) => (err ? reject(err) : resolve(true)));
      } catch {
        resolve(false);
      }
    });
    if (posix) return;
    if (await this.stat(to)) await this.unlink(to);
    await new Promise<void>((resolve, reject) => this.sftp.rename(from, to, (err) => (err ? reject(err) : resolve())));
  }

  /** Creates a directory and any missing parents (as rclone does), leaving existing ones alone. */
  async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await this.createDir(dir);
    this.knownDirs.add(dir);
  }

  private async createDir(dir: string): Promise<void> {
    if (dir === '/' || dir === '.' || (await this.stat(dir))) return;
    const parent = dir.replace(/\/+[^/]+\/*$/, '') || '/';
    if (parent !== dir) await this.createDir(parent);
    try {
      await new Promise<void>((resolve, reject) => this.sftp.mkdir(dir, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      // Another delivery may have created it meanwhile.
      if (!(await this.stat(dir))) throw new Error(`cannot create ${dir} at the partner: ${(err as Error).message}`, { cause: err });
    }
  }

  unlink(path: string): Promise<void> {
    return new Promise((resolve, reject) => this.sftp.unlink(path, (err) => (err ? reject(err) : resolve())));
  }

  readdir(path: string): Promise<{ filename: string; attrs: Stats }[]> {
    return new Promise((resolve, reject) => this.sftp.readdir(path, (err, list) => (err ? reject(err) : resolve(list as any))));
  }

  /**
   * The partner's SHA-256 of a file, where it answers `sha256sum` over SSH exec
   * (OpenSSH with a shell, Ferry); undefined when it does not.
   */
  async sha256(path: string): Promise<string | undefined> {
    const command = `sha256sum '${path.replaceAll("'", "'\\''")}'`;
    return new Promise((resolve) => {
      let open: ClientChannel | undefined;
      const timer = setTimeout(() => {
        open?.close();
        resolve(undefined);
      }, 60_000);
      this.client.exec(command, (err: Error | undefined, channel: ClientChannel) => {
        open = channel;
        if (err) {
          clearTimeout(timer);
          return resolve(undefined);
        }
        let out = '';
        channel.on('data', (d: Buffer) => (out += d.toString('utf8')));
        channel.stderr.resume();
        channel.on('close', (code: number | null) => {
          clearTimeout(timer);
          const hex = /^([0-9a-f]{64})\b/.exec(out.trim())?.[1];
          resolve(code === 0 && hex ? hex : undefined);
        });
      });
    });
  }
}
