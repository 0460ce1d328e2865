import crypto from 'node:crypto';
import net from 'node:net';
import type { Logger } from 'pino';
import ssh2 from '../../ssh2/library.js';
import type { Connection, AuthContext, Server as Ssh2Server, ServerChannel } from 'ssh2';
import type { AccountRow } from '../../accounts/account-store.js';
import type { LoginResult } from '../../accounts/authenticator.js';
import type { ReportMetric } from '../../observability/metric-events.js';
import type { Home } from '../../storage/home.js';
import { runExecCommand } from './exec-command.js';
import { refuseAsUnavailable } from './service-unavailable.js';
import { SftpSession } from './session.js';
import type { TransferJournal } from '../../transfers/transfer-journal.js';
import type { MaxStartups } from '../../config/max-startups.js';
import { AccountWatch } from '../ssh/account-watch.js';
import type { SshAlgorithms } from '../ssh/algorithms.js';
import { HandleBudget } from '../ssh/handle-budget.js';
import { HostKeyOffer } from '../ssh/host-key-offer.js';
import { LoginAttempts, MAX_USER_NAME_BYTES } from '../ssh/login-attempts.js';
import { PendingConnections } from '../ssh/pending-connections.js';

const { Server, utils } = ssh2;

/** What the SSH service needs from the rest of the node, passed in by node.ts. */
export interface SshServiceDeps {
  hostKeys: string[];
  log: Logger;
  journal: TransferJournal;
  /** From TCP accept to a finished login. */
  loginTimeoutMs: number;
  limits: SshLimits;
  algorithms: SshAlgorithms;
  authenticatePassword(name: string, password: string, clientAddress: string): Promise<LoginResult>;
  authenticateKey(name: string, keyBase64: string, clientAddress: string): Promise<LoginResult>;
  /** Whether the client address is banned (accounts/defender.ts): its connections are closed at once. */
  isBanned?(clientAddress: string): Promise<boolean>;
  /** Whether this worker knows the address is banned, without asking the database: checked as a connection is accepted. */
  knownBanned?(clientAddress: string): boolean;
  homeOf(account: AccountRow): Home;
  /** Files one SFTP session may open per second (transfers.session_rate). */
  sessionOpenRate?: number;
  /** Logins and sessions, for the node's metrics. */
  report?: ReportMetric;
  /** Which of these accounts still exist and are enabled: the others' open connections are ended. */
  enabledAccounts?(ids: number[]): Promise<Set<number>>;
}

/** What one client may hold (the sftp.max_* settings). */
export interface SshLimits {
  maxAuthTries: number;
  maxSessions: number;
  maxHandles: number;
  maxAccountHandles: number;
  maxStartups: MaxStartups;
}

const STDIN_TIMEOUT_MS = 10_000;

/** The SSH listener: logins against the account store, the SFTP subsystem, and hash commands. */
export class SshService {
  private readonly server: Ssh2Server;
  private listener: net.Server | undefined;
  private readonly sessions = new Set<SftpSession>();
  private readonly connections = new Set<Connection>();
  private readonly pending: PendingConnections;
  private readonly handles: HandleBudget;
  private readonly hostKeyOffer: HostKeyOffer;
  private readonly accountWatch: AccountWatch | undefined;

  constructor(private readonly deps: SshServiceDeps) {
    this.server = new Server({ hostKeys: deps.hostKeys, algorithms: deps.algorithms as any, ident: 'Ferry' });
    this.server.on('connection', (client, info) => this.onConnection(client, info.ip));
    this.pending = new PendingConnections(deps.limits.maxStartups, deps.loginTimeoutMs);
    this.handles = new HandleBudget({ perConnection: deps.limits.maxHandles, perAccount: deps.limits.maxAccountHandles });
    this.hostKeyOffer = new HostKeyOffer(deps.algorithms.serverHostKey);
    this.accountWatch = deps.enabledAccounts ? new AccountWatch(deps.enabledAccounts, deps.log) : undefined;
  }

  /**
   * Takes a new client socket: refused at once when too many connections are
   * waiting to log in or the worker is short of descriptors; otherwise its
   * login timer starts now, before the client has sent anything.
   */
  private admit(socket: net.Socket): void {
    socket.on('error', () => {});
    this.handles.holdSocket(socket);
    if (!this.handles.hasRoom()) {
      this.deps.log.warn({ client: socket.remoteAddress }, 'connection refused: the worker is at its open-file limit');
      socket.destroy();
      return;
    }
    const admitted = this.pending.admit(socket, () => {
      this.deps.log.warn({ client: socket.remoteAddress }, 'login timed out');
      socket.destroy();
    });
    if (!admitted) {
      this.deps.log.debug(
        { client: socket.remoteAddress, pending: this.pending.count },
        'connection refused: too many connections not logged in (sftp.max_startups)',
      );
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    coalesceWrites(socket);
    this.server.injectSocket(socket);
  }

  /** Starts accepting connections (again, after stopAccepting). */
  async listen(port: number, host: string): Promise<number> {
    if (this.listener) return this.port;
    const listener = net.createServer((socket) => {
      if (this.deps.knownBanned?.(socket.remoteAddress ?? '')) return void socket.destroy();
      this.admit(socket);
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
    if (!this.accepting || this.deps.knownBanned?.(socket.remoteAddress ?? '')) {
      socket.destroy();
      return;
    }
    this.admit(socket);
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
    const attempts = new LoginAttempts(this.deps.limits.maxAuthTries, log);
    this.connections.add(client);
    this.hostKeyOffer.apply(client);
    // ssh2 keeps the TCP socket as _sock.
    const socket = (client as unknown as { _sock: net.Socket })._sock;
    let unwatch: (() => void) | undefined;

    client.on('error', (err) => log.debug({ err: err.message }, 'ssh connection error'));
    // A banned address gets no login attempts; debug only, or a flood of its connections floods the log.
    this.deps.isBanned?.(clientAddress).then(
      (banned) => banned && (log.debug('banned address: connection closed'), client.end()),
      () => {},
    );
    const ownSessions = new Set<SftpSession>();
    /** Exec commands at work: a client that leaves stops them (an unread channel may never emit close). */
    const ownCommands = new Set<AbortController>();
    client.on('close', () => {
      unwatch?.();
      for (const command of ownCommands) command.abort();
      this.connections.delete(client);
      log.debug('connection closed');
      if (account) this.deps.report?.({ metric: 'session', protocol: 'sftp', open: false });
      // A client whose offered keys were all unknown failed once, when it gave up.
      else if (attempts.unknownKey && attempts.refusedLogins === 0) this.deps.report?.({ metric: 'login', protocol: 'sftp', ok: false });
      // A paused channel never emits 'end' when the TCP connection dies: end its session here.
      for (const sftp of ownSessions) {
        this.sessions.delete(sftp);
        void sftp.end('connection closed before the file was closed');
      }
    });
    client.on('authentication', (ctx) => {
      // Requests the client sent before our disconnect reached it: refused without any work.
      if (attempts.exhausted) return ctx.reject();
      this.authenticate(ctx, clientAddress, attempts)
        .then((decision) => {
          if (decision === 'reject') {
            ctx.reject(['publickey', 'password']);
            if (attempts.failed(ctx.method)) {
              log.warn({ tries: attempts.tries }, 'too many authentication failures (sftp.max_auth_tries); disconnecting');
              client.end();
            }
            return;
          }
          // Set before accept(): ssh2 emits 'ready' from inside accept().
          if (decision !== 'continue') account = decision;
          ctx.accept();
        })
        .catch((err) => {
          log.error({ err }, 'login check failed');
          // Not "Permission denied": nothing is wrong with the credentials, the check could not be made (the database is away).
          refuseAsUnavailable(client);
        });
    });
    client.on('ready', () => {
      this.pending.settled(socket);
      log = log.child({ account: account!.name });
      log.info('login');
      this.deps.report?.({ metric: 'login', protocol: 'sftp', ok: true });
      this.deps.report?.({ metric: 'session', protocol: 'sftp', open: true });
      const home = this.deps.homeOf(account!);
      const handles = this.handles.forConnection(account!.name);
      unwatch = this.accountWatch?.watch(account!.id, () => {
        log.warn('account disabled or removed; ending its connection');
        void Promise.allSettled([...ownSessions].map((s) => s.close('account disabled or removed during the transfer'))).then(() => client.end());
      });
      let channels = 0;
      let channelsRefused = false;
      client.on('session', (accept, rejectChannel) => {
        // OpenSSH's MaxSessions: each channel may hold handles, buffers and a hash in progress.
        if (channels >= this.deps.limits.maxSessions) {
          // Logged once per connection: refusals must not become a way to fill the log.
          if (!channelsRefused) log.warn({ channels }, 'channel refused: too many open on this connection (sftp.max_sessions)');
          channelsRefused = true;
          return rejectChannel();
        }
        channels++;
        const session = accept();
        let counted = true;
        const closed = () => {
          if (counted) channels--;
          counted = false;
        };
        session.once('close', closed);
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
            // Corking the socket merges a burst of replies into few segments.
            cork: () => socket.cork(),
            uncork: () => socket.uncork(),
            handles,
          });
          this.sessions.add(sftp);
          ownSessions.add(sftp);
          channel.on('close', () => {
            closed();
            this.sessions.delete(sftp);
            ownSessions.delete(sftp);
          });
        });
        session.on('exec', (acceptExec, _reject, info) => {
          const channel = acceptExec();
          channel.once('close', closed);
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
    const result = await runExecCommand(command, home, (consume) => readStdin(channel, consume), signal);
    if (result.stdout) channel.write(result.stdout);
    if (result.stderr) channel.stderr.write(result.stderr);
    channel.exit(result.exitCode);
    channel.end();
  }

  /**
   * Decides one authentication attempt: the account on success, 'continue' when a
   * public key is acceptable and the client should now sign with it, or 'reject'.
   */
  private async authenticate(ctx: AuthContext, clientAddress: string, attempts: LoginAttempts): Promise<AccountRow | 'continue' | 'reject'> {
    const name = ctx.username;
    const refused = () => {
      attempts.refusedLogins++;
      this.deps.report?.({ metric: 'login', protocol: 'sftp', ok: false });
      return 'reject' as const;
    };
    // No account has such a name: refused unread, before any lookup or password hashing.
    if (Buffer.byteLength(name) > MAX_USER_NAME_BYTES && (ctx.method === 'password' || ctx.method === 'publickey')) {
      attempts.logRefusal({ account: name, reason: 'name-too-long' });
      return refused();
    }
    if (ctx.method === 'password') {
      const result = await this.deps.authenticatePassword(name, ctx.password, clientAddress);
      if (result.ok) return result.account;
      attempts.logRefusal({ account: name, reason: result.reason, locked: result.lockedNow ?? false });
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
        attempts.logRefusal({ account: name, reason: result.reason });
        return refused();
      }
      if (!ctx.signature || !ctx.blob) return 'continue';
      const key = utils.parseKey(ctx.key.data);
      if (key instanceof Error || Array.isArray(key) || key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
        attempts.logRefusal({ account: name, reason: 'bad-signature' });
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

/** Hands a command's standard input to `consume` piece by piece until its end (or STDIN_TIMEOUT_MS): nothing is kept. */
function readStdin(channel: ServerChannel, consume: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve) => {
    let open = true;
    const done = () => {
      open = false;
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, STDIN_TIMEOUT_MS);
    channel.on('data', (chunk: Buffer) => {
      if (open) consume(chunk);
    });
    channel.once('end', done);
    channel.once('close', done);
  });
}
