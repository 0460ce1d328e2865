import { AccountStore, type AccountRow } from './accounts/account-store.js';
import { Authenticator } from './accounts/authenticator.js';
import { defenderOf } from './accounts/defender.js';
import { HashSlots } from './accounts/hash-slots.js';
import { ClusterEvents } from './cluster/events.js';
import { loadNodeId } from './cluster/node-identity.js';
import type { SupervisorMessage, WorkerMessage } from './worker-pool.js';
import type { Config } from './config/schema.js';
import { openDatabase } from './db/connect.js';
import { createLogger } from './observability/logger.js';
import { batchedReporter, measuredJournal } from './observability/metric-events.js';
import { loadHostKeys } from './protocols/sftp/host-keys.js';
import { SshService } from './protocols/sftp/ssh-service.js';
import { resolveSshAlgorithms } from './protocols/ssh/algorithms.js';
import { TunnelConnector } from './edge/tunnel-connector.js';
import { readTls } from './edge/tunnel-protocol.js';
import { accountHome } from './storage/home.js';
import { retryWhileDatabaseDown } from './transfers/retry.js';
import { TransferLog, type AfterFinish, type TransferEnd } from './transfers/transfer-log.js';
import { enqueueDeliveries } from './routing/enqueue.js';

const LOAD_REPORT_INTERVAL_MS = 500;
/** Password hashes one client address may have in flight per worker, and attempts that may wait for one. */
const HASHES_PER_ADDRESS = 1;
const HASH_WAITERS_PER_ADDRESS = 32;

/**
 * A worker process: serves SFTP sessions on the listening socket it shares with
 * the node's other workers, when the supervisor says so. Everything it knows
 * comes from the database.
 */
export async function runWorker(config: Config): Promise<void> {
  const log = createLogger(config.log.level, { node: config.node.name, worker: process.pid });
  const database = openDatabase(config.database.url, { poolSize: 4 });
  const nodeId = loadNodeId(config.data.dir);
  const transfers = new TransferLog(database.db);
  const accounts = new AccountStore(database.db);
  const send = (msg: WorkerMessage) => process.send?.(msg);
  const metrics = batchedReporter((events) => send({ type: 'metrics', events }));
  const report = metrics.report;
  const defender = defenderOf(database.db, config);
  const authenticator = new Authenticator(
    database.db,
    {
      failures: config.accounts.lockout_failures,
      windowMs: config.accounts.lockout_window,
      durationMs: config.accounts.lockout_duration,
      keys: config.accounts.lockout_keys,
    },
    { defender, hashSlots: new HashSlots(HASHES_PER_ADDRESS, HASH_WAITERS_PER_ADDRESS), onHash: () => report({ metric: 'password-hash' }) },
  );
  // What waits is sent as the process ends, however it ends but SIGKILL (best effort: sessions closed at shutdown report late).
  process.on('exit', metrics.flush);
  const events = new ClusterEvents(database.db, log);
  const authenticatePassword = async (name: string, password: string, address: string) => {
    const result = await authenticator.password(name, password, address);
    if (!result.ok && result.bannedNow) {
      const { address: banned, until, bans } = result.bannedNow;
      log.warn({ client: banned, until: new Date(until).toISOString(), bans, account: name.slice(0, 64) }, 'address banned');
    }
    if (!result.ok && result.lockedNow) {
      const detail = `account ${name}: ${config.accounts.lockout_failures} wrong passwords, the last from ${address}; locked for ${Math.round(config.accounts.lockout_duration / 1000)} s`;
      await events
        .record({ kind: 'account-locked', nodeId, nodeName: config.node.name, detail })
        .catch((err) => log.error({ err: (err as Error).message, account: name }, 'could not record the account-locked event'));
    }
    return result;
  };
  // A completed upload and the deliveries its routes ask for commit together.
  const routeUpload =
    (end: TransferEnd): AfterFinish =>
    async (trx, row) => {
      const queued = await enqueueDeliveries(
        trx,
        { event: 'upload', account: row.account, path: row.path, size: row.start_offset + end.bytes, sha256: end.sha256 ?? null },
        { maxAttempts: config.queue.max_attempts, storageDir: config.storage.dir },
      );
      if (queued > 0) setImmediate(() => send({ type: 'queued' }));
    };

  const ssh = new SshService({
    hostKeys: await loadHostKeys(database.db),
    log,
    loginTimeoutMs: config.sftp.login_timeout,
    limits: {
      maxAuthTries: config.sftp.max_auth_tries,
      maxSessions: config.sftp.max_sessions,
      maxHandles: config.sftp.max_handles,
      maxAccountHandles: config.sftp.max_account_handles,
      maxStartups: config.sftp.max_startups,
    },
    algorithms: resolveSshAlgorithms(config.sftp),
    journal: measuredJournal(
      {
        start: (t) => transfers.start({ ...t, nodeId, workerPid: process.pid }),
        // The end of a transfer must reach the log even across a database restart.
        finish: (id, end) => retryWhileDatabaseDown(() => transfers.finish(id, end), log),
        completeUpload: (id, end) => retryWhileDatabaseDown(() => transfers.finishUpload(id, end, routeUpload(end)), log),
        knownSha256: (account, path, stamp) => transfers.knownSha256(account, path, stamp),
      },
      report,
    ),
    authenticatePassword,
    report,
    authenticateKey: (name, key, address) => authenticator.publicKey(name, key, address),
    isBanned: (address) => defender.isBanned(address),
    knownBanned: (address) => defender.knownBanned(address),
    homeOf: (account: AccountRow) => accountHome(config.storage.dir, account, { umask: config.storage.umask }),
    enabledAccounts: (ids) => accounts.enabledAmong(ids),
    sessionOpenRate: config.transfers.session_rate,
  });

  let tunnels: TunnelConnector | undefined;
  if (config.edges.length > 0) {
    tunnels = new TunnelConnector(
      { edges: config.edges, tls: readTls(config.tls, 'a node with edges'), ready: () => ssh.accepting, accept: (socket) => ssh.accept(socket) },
      log,
    );
    tunnels.start();
  }

  let lastLoad = '';
  const loadTimer = setInterval(() => {
    const load = { type: 'load' as const, sessions: ssh.sessionCount, transfers: ssh.openTransfers };
    const key = `${load.sessions}/${load.transfers}`;
    if (key !== lastLoad) {
      lastLoad = key;
      send(load);
    }
  }, LOAD_REPORT_INTERVAL_MS);

  let stopping = false;
  const shutdown = async (graceMs: number) => {
    if (stopping) return;
    stopping = true;
    ssh.stopAccepting();
    tunnels?.stop();
    const deadline = Date.now() + graceMs;
    while (ssh.openTransfers > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (ssh.openTransfers > 0) log.warn({ open: ssh.openTransfers }, 'grace period over; aborting open transfers');
    await ssh.closeAll('node shut down during the transfer');
    clearInterval(loadTimer);
    await database.close();
    process.exit(0);
  };

  process.on('message', (msg: SupervisorMessage) => {
    if (msg?.type === 'serve') {
      if (stopping) return;
      const change = msg.on ? ssh.listen(config.sftp.port, config.sftp.host) : Promise.resolve(ssh.stopAccepting());
      change
        .then(() => send({ type: 'serving', on: msg.on, sftpPort: ssh.port }))
        .catch((err) => {
          log.fatal({ err: err.message, port: config.sftp.port }, 'cannot listen for SFTP');
          process.exit(1);
        });
    } else if (msg?.type === 'close-sessions') {
      void ssh.closeAll(msg.reason);
    } else if (msg?.type === 'shutdown') {
      void shutdown(msg.graceMs);
    }
  });
  // A signal sent to the whole process group reaches workers too: the supervisor decides.
  process.on('SIGTERM', () => {});
  process.on('SIGINT', () => {});
  // The supervisor died (SIGKILL): nobody heartbeats for this node any more.
  process.on('disconnect', () => process.exit(1));
  log.info('worker up');
  send({ type: 'up' });
}
