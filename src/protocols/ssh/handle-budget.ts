import fs from 'node:fs';

/** Descriptors a worker keeps free of SFTP handles and client sockets: IPC, the database, logs, accept. */
const RESERVED_FDS = 64;
/** Handles stop this much earlier than connections: a new client can still log in while handles are refused. */
const CONNECTION_ROOM = 32;
/** How long a read of the descriptor limit is trusted (it can change at run time: prlimit). */
const LIMIT_TTL_MS = 1000;

/** A limit reached: the request fails with "Too many open files" and nothing else changes. */
function tooMany(what: string): Error {
  return Object.assign(new Error(`too many open handles (${what})`), { code: 'EMFILE' });
}

/**
 * This process's open-file limit (RLIMIT_NOFILE, soft) as /proc/self/limits
 * shows it, or undefined where there is no such file.
 */
function readFdLimit(): number | undefined {
  try {
    const line = fs
      .readFileSync('/proc/self/limits', 'latin1')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

function openFds(): number {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/**
 * What one worker's clients may hold: open handles per connection and per
 * account, and descriptors for the whole worker. The worker-wide part keeps
 * a reserve below the process's descriptor limit: a worker at that limit
 * cannot receive the next connection node:cluster hands it, the hand-off is
 * never acknowledged, and the cluster primary then sends that worker no
 * connection ever again, long after the descriptors are free. Refusing
 * handles and connections before the limit keeps the hand-off working.
 */
export class HandleBudget {
  private readonly perAccount = new Map<string, number>();
  /** Handles and client sockets of this worker. */
  private used = 0;
  /** Descriptors open before any client (the baseline the reserve is added to). */
  private readonly baseline = openFds();
  private limit: number | undefined;
  private limitReadAt = 0;

  constructor(private readonly limits: { perConnection: number; perAccount: number }) {}

  /** Whether the worker can take one more descriptor-holding thing now (`spare` more kept free). */
  hasRoom(spare = 0): boolean {
    const now = Date.now();
    if (now - this.limitReadAt > LIMIT_TTL_MS) {
      this.limit = readFdLimit();
      this.limitReadAt = now;
    }
    if (this.limit === undefined) return true;
    return this.baseline + this.used + spare + RESERVED_FDS + Math.floor(this.limit / 20) < this.limit;
  }

  /** A client socket holds a descriptor until it closes. */
  holdSocket(socket: { once(event: 'close', fn: () => void): unknown }): void {
    this.used++;
    socket.once('close', () => this.used--);
  }

  /** The handle account of one logged-in connection. */
  forConnection(account: string): ConnectionHandles {
    return new ConnectionHandles(this, account, this.limits.perConnection);
  }

  /** @internal for ConnectionHandles */
  take(account: string): void {
    const held = this.perAccount.get(account) ?? 0;
    if (held >= this.limits.perAccount) throw tooMany(`account ${account} has ${held} open on this worker`);
    if (!this.hasRoom(CONNECTION_ROOM)) throw tooMany('the server is at its open-file limit');
    this.perAccount.set(account, held + 1);
    this.used++;
  }

  /** @internal for ConnectionHandles */
  release(account: string, n: number): void {
    const held = (this.perAccount.get(account) ?? 0) - n;
    if (held > 0) this.perAccount.set(account, held);
    else this.perAccount.delete(account);
    this.used -= n;
  }
}

/** Open handles of one connection, all its channels together. */
export class ConnectionHandles {
  private held = 0;

  constructor(
    private readonly budget: HandleBudget,
    private readonly account: string,
    private readonly max: number,
  ) {}

  /** Counts one more open handle, or throws EMFILE (nothing counted) when a limit is reached. */
  take(): void {
    if (this.held >= this.max) throw tooMany(`${this.held} open on this connection`);
    this.budget.take(this.account);
    this.held++;
  }

  release(n = 1): void {
    if (n <= 0) return;
    this.held -= n;
    this.budget.release(this.account, n);
  }
}
