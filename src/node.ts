import cluster, { type Worker } from 'node:cluster';
import fs from 'node:fs';
import os from 'node:os';
import { abortTransfersOfSilentNodes, removeStalePartials } from './cluster/housekeeping.js';
import { Membership } from './cluster/membership.js';
import { loadNodeId } from './cluster/node-identity.js';
import type { Config } from './config/schema.js';
import { migrate, openDatabase } from './db/connect.js';
import { createLogger } from './observability/logger.js';
import { hasNativeSshCrypto } from './observability/native-crypto.js';
import { loadHostKeys } from './protocols/sftp/host-keys.js';
import { TransferLog } from './transfers/transfer-log.js';
import { VERSION } from './version.js';
import { runWorker, type SupervisorMessage, type WorkerMessage } from './node-worker.js';

const HOUSEKEEPING_INTERVAL_MS = 5_000;
const PARTIAL_SWEEP_INTERVAL_MS = 60_000;

/** Runs this process as a node's supervisor, or as one of its workers when forked by it. */
export async function runNode(config: Config): Promise<void> {
  if (cluster.isPrimary) await runSupervisor(config);
  else await runWorker(config);
}

/**
 * The supervisor holds the node's identity: it migrates the database, registers
 * and heartbeats the node, runs housekeeping, and keeps one worker per core
 * serving sessions on the shared listening sockets.
 */
async function runSupervisor(config: Config): Promise<void> {
  const log = createLogger(config.log.level, { node: config.node.name });
  if (!hasNativeSshCrypto()) {
    log.warn("ssh2's native crypto binding (sshcrypto.node) is missing: SFTP will run at about half speed");
  }
  fs.mkdirSync(config.data.dir, { recursive: true });
  fs.mkdirSync(config.storage.dir, { recursive: true });
  const database = openDatabase(config.database.url, { poolSize: 4 });
  await migrate(database);
  const nodeId = loadNodeId(config.data.dir);
  const membership = new Membership(database.db, nodeId, config.node.name, VERSION);
  await membership.register();
  const transfers = new TransferLog(database.db);
  const orphaned = await transfers.abortRowsOfNodes([nodeId], 'node restarted during the transfer');
  if (orphaned > 0) log.warn({ transfers: orphaned }, 'marked transfers of the previous run aborted');
  await loadHostKeys(database.db);

  const heartbeat = setInterval(() => {
    membership.heartbeat().catch((err) => log.error({ err: err.message }, 'heartbeat failed'));
  }, config.node.heartbeat_interval);
  let lastPartialSweep = 0;
  const housekeeping = setInterval(() => {
    abortTransfersOfSilentNodes(database.db, Date.now() - config.node.dead_after)
      .then((n) => n > 0 && log.warn({ transfers: n }, 'marked transfers of silent nodes aborted'))
      .catch((err) => log.error({ err: err.message }, 'housekeeping failed'));
    if (Date.now() - lastPartialSweep >= PARTIAL_SWEEP_INTERVAL_MS) {
      lastPartialSweep = Date.now();
      const removed = removeStalePartials(config.storage.dir, config.storage.partial_max_age);
      if (removed > 0) log.info({ removed }, 'removed stale partial uploads');
    }
  }, HOUSEKEEPING_INTERVAL_MS);

  const workerCount = config.node.workers || os.availableParallelism();
  let stopping = false;
  let listening = 0;
  let sftpPort = 0;
  const fork = (): Worker => {
    const worker = cluster.fork();
    const pid = worker.process.pid!;
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'listening') {
        sftpPort = msg.sftpPort;
        if (++listening === workerCount) {
          log.info({ nodeId, sftpPort, workers: workerCount, database: database.displayUrl, storage: config.storage.dir, version: VERSION }, 'node ready');
        }
      }
    });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      log.error({ pid, code, signal }, 'worker died; starting a new one');
      transfers
        .abortRowsOfWorker(nodeId, pid, 'worker process died during the transfer')
        .catch((err) => log.error({ err: err.message }, 'could not mark the dead worker transfers aborted'));
      setTimeout(() => !stopping && fork(), 1000);
    });
    return worker;
  };
  for (let i = 0; i < workerCount; i++) fork();

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceMs: config.shutdown.grace }, 'shutting down: no new sessions, finishing transfers');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    const exited = workers.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
    for (const w of workers) {
      try {
        w.send({ type: 'shutdown' } satisfies SupervisorMessage);
      } catch {}
    }
    const killTimer = setTimeout(() => {
      for (const w of workers) w.process.kill('SIGKILL');
    }, config.shutdown.grace + 10_000);
    await Promise.all(exited);
    clearTimeout(killTimer);
    clearInterval(heartbeat);
    clearInterval(housekeeping);
    await transfers.abortRowsOfNodes([nodeId], 'node shut down during the transfer').catch(() => 0);
    await membership.markStopped().catch(() => {});
    await database.close();
    log.info('node stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
