import crypto from 'node:crypto';
import net from 'node:net';
import type { Logger } from 'pino';
import ssh2 from '../ssh2-library.js';
import type { Connection, AuthContext, Server as Ssh2Server, ServerChannel } from 'ssh2';
import type { AccountRow } from '../../accounts/account-store.js';
import type { LoginResult } from '../../accounts/authenticator.js';
import type { ReportMetric } from '../../observability/metric-events.js';
import type { Home } from '../../storage/home.js';
import { runExecCommand } from './exec-command.js';
import { SftpSession } from './session.js';
import type { TransferJournal } from './transfer-journal.js';

const { Server, utils } = ssh2;

/** What the SSH service needs from the rest of the node, passed in by node.ts. */
export interface SshServiceDeps {
  hostKeys: string[];
  log: Logger;
  journal: TransferJournal;
  loginTimeoutMs: number;
  authenticatePassword(name: string, password: string, clientAddress: string): Promise<LoginResult>;
  authenticateKey(name: string, keyBase64: string, clientAddress: string): Promise<LoginResult>;
  homeOf(account: AccountRow): Home;
  /** Files one SFTP session may open per second (transfers.session_rate). */
  sessionOpenRate?: number;
  /** Logins and sessions, for the node's metrics. */
  report?: ReportMetric;
}

const STDIN_LIMIT = 1024 * 1024;
const STDIN_TIMEOUT_MS = 10_000;

// Offered in this order; aes128-ctr + hmac-sha2-256 stay for libssh2 (curl) and old clients.
const ALGORITHMS = {
  cipher: [
    'aes128-gcm@openssh.com',
    'aes256-gcm@openssh.com',
    'chacha20-poly1305@openssh.com',
    'aes128-ctr',
    'aes192-ctr',
    'aes256-ctr',
  ],
  hmac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512'],
} as const;

/** The SSH listener: logins against the account store, the SFTP subsystem, and hash commands. */
export class SshService {
  private readonly server: Ssh2Server;
  private listener: net.Server | undefined;
  private readonly sessions = new Set<SftpSession>();
  private readonly connections = new Set<Connection>();

  constructor(private readonly deps: SshServiceDeps) {
    this.server = new Server({ hostKeys: deps.hostKeys, algorithms: ALGORITHMS as any, ident: 'Ferry' });
    this.server.on('connection', (client, info) => this.onConnection(client, info.ip));
  }

  /** Starts accepting connections (again, after stopAccepting). */
  async listen(port: number, host: string): Promise<number> {
    if (this.listener) return this.port;
    const listener = net.createServer((socket) => {
      socket.setNoDelay(true);
      coalesceWrites(socket);
      socket.on('error', () => {});
      this.server.injectSocket(socket);
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    this.listener = listener;
    return this.port;
  }

  /** Whether the service takes new connections now (it listens). */
  get accepting(): boolean {
    return this.listener !== undefined;
  }

  /** Takes a client connection that arrived another way (an edge tunnel's data connection). */
  accept(socket: net.Socket): void {
    if (!this.accepting) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    coalesceWrites(socket);
    socket.on('error', () => {});
    this.server.injectSocket(socket);
  }

  get port(): number {
    return (this.listener?.address() as net.AddressInfo | null)?.port ?? 0;
  }

  /** Stops accepting new connections; established sessions go on. */
  stopAccepting(): void {
    // close()'s callback waits for every connection to end, so it is not awaited.
    this.listener?.close();
    this.listener = undefined;
  }

  get openTransfers(): number {
    let n = 0;
    for (const s of this.sessions) n += s.openTransfers;
    return n;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Ends every session, recording its open transfers aborted with `reason`. */
  async closeAll(reason: string): Promise<void> {
    await Promise.allSettled([...this.sessions].map((s) => s.close(reason)));
    for (const c of this.connections) c.end();
  }

  private onConnection(client: Connection, clientAddress: string): void {
    const sessionId = crypto.randomBytes(6).toString('hex');
    let log = this.deps.log.child({ session: sessionId, client: clientAddress });
    let account: AccountRow | undefined;
    const attempts = { failed: 0, unknownKey: false };
    this.connections.add(client);
    const loginTimer = setTimeout(() => {
      log.warn('login timed out');
      client.end();
    }, this.deps.loginTimeoutMs);

    client.on('error', (err) => log.debug({ err: err.message }, 'ssh connection error'));
    const ownSessions = new Set<SftpSession>();
    /** Exec commands at work: a client that leaves stops them (an unread channel may never emit close). */
    const ownCommands = new Set<AbortController>();
    client.on('close', () => {
      clearTimeout(loginTimer);
      for (const command of ownCommands) command.abort();
      this.connections.delete(client);
      log.debug('connection closed');
      if (account) this.deps.report?.({ metric: 'session', protocol: 'sftp', open: false });
      // A client whose offered keys were all unknown failed once, when it gave up.
      else if (attempts.unknownKey && attempts.failed === 0) this.deps.report?.({ metric: 'login', protocol: 'sftp', ok: false });
      // A paused channel never emits 'end' when the TCP connection dies: end its session here.
      for (const sftp of ownSessions) {
        this.sessions.delete(sftp);
        void sftp.end('connection closed before the file was closed');
      }
    });
    client.on('authentication', (ctx) => {
      this.authenticate(ctx, clientAddress, log, attempts)
        .then((decision) => {
          if (decision === 'reject') return ctx.reject(['publickey', 'password']);
          // Set before accept(): ssh2 emits 'ready' from inside accept().
          if (decision !== 'continue') account = decision;
          ctx.accept();
        })
        .catch((err) => {
          log.error({ err }, 'login check failed');
          ctx.reject();
        });
    });
    client.on('ready', () => {
      clearTimeout(loginTimer);
      log = log.child({ account: account!.name });
      log.info('login');
      this.deps.report?.({ metric: 'login', protocol: 'sftp', ok: true });
      this.deps.report?.({ metric: 'session', protocol: 'sftp', open: true });
      const home = this.deps.homeOf(account!);
      // ssh2 keeps the TCP socket as _sock; corking it merges a burst of replies into few segments.
      const socket = (client as unknown as { _sock: net.Socket })._sock;
      client.on('session', (accept) => {
        const session = accept();
        session.on('subsystem', (acceptSub, reject, info) => {
          if (info.name !== 'sftp') return reject();
          const channel = acceptSub();
          const sftp = new SftpSession(channel, {
            home,
            accountName: account!.name,
            sessionId,
            clientAddress,
            journal: this.deps.journal,
            openRate: this.deps.sessionOpenRate,
            log,
            cork: () => socket.cork(),
            uncork: () => socket.uncork(),
          });
          this.sessions.add(sftp);
          ownSessions.add(sftp);
          channel.on('close', () => {
            this.sessions.delete(sftp);
            ownSessions.delete(sftp);
          });
        });
        session.on('exec', (acceptExec, _reject, info) => {
          const channel = acceptExec();
          log.info({ command: info.command.slice(0, 200) }, 'exec');
          const left = new AbortController();
          ownCommands.add(left);
          channel.on('close', () => left.abort());
          void this.runCommand(channel, info.command, home, left.signal).finally(() => ownCommands.delete(left));
        });
      });
    });
  }

  private async runCommand(channel: ServerChannel, command: string, home: Home, signal: AbortSignal): Promise<void> {
    const result = await runExecCommand(command, home, () => readStdin(channel), signal);
    if (result.stdout) channel.write(result.stdout);
    if (result.stderr) channel.stderr.write(result.stderr);
    channel.exit(result.exitCode);
    channel.end();
  }

  /**
   * Decides one authentication attempt: the account on success, 'continue' when a
   * public key is acceptable and the client should now sign with it, or 'reject'.
   */
  private async authenticate(
    ctx: AuthContext,
    clientAddress: string,
    log: Logger,
    attempts: { failed: number; unknownKey: boolean },
  ): Promise<AccountRow | 'continue' | 'reject'> {
    const name = ctx.username;
    const refused = () => {
      attempts.failed++;
      this.deps.report?.({ metric: 'login', protocol: 'sftp', ok: false });
      return 'reject' as const;
    };
    if (ctx.method === 'password') {
      const result = await this.deps.authenticatePassword(name, ctx.password, clientAddress);
      if (result.ok) return result.account;
      log.warn({ account: name, reason: result.reason, locked: result.lockedNow ?? false }, 'login refused');
      return refused();
    }
    if (ctx.method === 'publickey') {
      const result = await this.deps.authenticateKey(name, ctx.key.data.toString('base64'), clientAddress);
      if (!result.ok) {
        // Clients offer their keys in turn: an unknown one is no failure yet.
        if (result.reason === 'unknown-key') {
          attempts.unknownKey = true;
          return 'reject';
        }
        log.warn({ account: name, reason: result.reason }, 'login refused');
        return refused();
      }
      if (!ctx.signature || !ctx.blob) return 'continue';
      const key = utils.parseKey(ctx.key.data);
      if (key instanceof Error || Array.isArray(key) || key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
        log.warn({ account: name, reason: 'bad-signature' }, 'login refused');
        return refused();
      }
      return result.account;
    }
    return 'reject';
  }
}

/**
 * ssh2 writes every SSH packet (32 KiB at most) to the socket on its own; with
 * TCP_NODELAY each is a system call and a segment. Corking on the first write of
 * a tick and uncorking at its end sends what one tick produced in one writev.
 */
function coalesceWrites(socket: net.Socket): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  const flush = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(flush);
    }
    return write(...args);
  }) as typeof socket.write;
}

function readStdin(channel: ServerChannel): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(done, STDIN_TIMEOUT_MS);
    channel.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= STDIN_LIMIT) chunks.push(chunk);
    });
    channel.once('end', done);
  });
}
