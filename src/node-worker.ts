import path from 'node:path';
import type { AccountRow } from './accounts/account-store.js';
import { Authenticator } from './accounts/authenticator.js';
import { loadNodeId } from './cluster/node-identity.js';
import type { Config } from './config/schema.js';
import { openDatabase } from './db/connect.js';
import { createLogger } from './observability/logger.js';
import { loadHostKeys } from './protocols/sftp/host-keys.js';
import { SshService } from './protocols/sftp/ssh-service.js';
import { Home, partialDirFor } from './storage/home.js';
import { TransferLog } from './transfers/transfer-log.js';

export type WorkerMessage = { type: 'listening'; sftpPort: number } | { type: 'sessions'; count: number };
export type SupervisorMessage = { type: 'shutdown' };

/**
 * A worker process: serves SFTP sessions on the listening socket it shares with
 * the node's other workers. Everything it knows comes from the database.
 */
export async function runWorker(config: Config): Promise<void> {
  const log = createLogger(config.log.level, { node: config.node.name, worker: process.pid });
  const database = openDatabase(config.database.url, { poolSize: 4 });
  const nodeId = loadNodeId(config.data.dir);
  const transfers = new TransferLog(database.db);
  const authenticator = new Authenticator(database.db, {
    failures: config.accounts.lockout_failures,
    windowMs: config.accounts.lockout_window,
    durationMs: config.accounts.lockout_duration,
  });

  const ssh = new SshService({
    hostKeys: await loadHostKeys(database.db),
    log,
    loginTimeoutMs: config.sftp.login_timeout,
    journal: {
      start: (t) => transfers.start({ ...t, nodeId, workerPid: process.pid }),
      finish: (id, end) => transfers.finish(id, end),
    },
    authenticatePassword: (name, password, address) => authenticator.password(name, password, address),
    authenticateKey: (name, key) => authenticator.publicKey(name, key),
    homeOf: (account: AccountRow) =>
      new Home(path.join(config.storage.dir, account.home), partialDirFor(config.storage.dir, account.id)),
  });
  const sftpPort = await ssh.listen(config.sftp.port, config.sftp.host);
  process.send?.({ type: 'listening', sftpPort } satisfies WorkerMessage);

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    ssh.stopAccepting();
    const deadline = Date.now() + config.shutdown.grace;
    while (ssh.openTransfers > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (ssh.openTransfers > 0) log.warn({ open: ssh.openTransfers }, 'grace period over; aborting open transfers');
    await ssh.closeAll('node shut down during the transfer');
    await database.close();
    process.exit(0);
  };
  process.on('message', (msg: SupervisorMessage) => {
    if (msg?.type === 'shutdown') void shutdown();
  });
  // A signal sent to the whole process group reaches workers directly too.
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
  // The supervisor died (SIGKILL): nobody heartbeats for this node any more.
  process.on('disconnect', () => process.exit(1));
}
