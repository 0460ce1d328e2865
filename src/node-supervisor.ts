import fs from 'node:fs';
import { adminTls } from './admin/admin-tls.js';
import { startAdminServer } from './admin/admin-server.js';
import { Coordinator, type NodeStatus } from './cluster/coordinator.js';
import { ClusterEvents } from './cluster/events.js';
import { parseSafeList } from './accounts/defender.js';
import { Housekeeping } from './cluster/housekeeping.js';
import { PrimaryLease } from './cluster/lease.js';
import { Membership } from './cluster/membership.js';
import { loadNodeId } from './cluster/node-identity.js';
import { waitForDatabase } from './cluster/wait-for-database.js';
import { WorkerPool } from './worker-pool.js';
import type { Config } from './config/schema.js';
import { openDatabase } from './db/connect.js';
import { requireKnownSchema } from './db/schema-version.js';
import { AlertDispatcher } from './observability/alerts/alert-dispatcher.js';
import { AlertStore } from './observability/alerts/alert-store.js';
import { resolveWebhooks } from './observability/alerts/webhooks.js';
import { readClusterSnapshot } from './observability/cluster-snapshot.js';
import { createLogger } from './observability/logger.js';
import { NodeMetrics } from './observability/node-metrics.js';
import { hasNativeSshCrypto } from './observability/native-crypto.js';
import { CapacityCheck } from './observability/capacity/capacity-check.js';
import { loadHostKeys } from './protocols/sftp/host-keys.js';
import { resolveSshAlgorithms } from './protocols/ssh/algorithms.js';
import { FolderMonitor } from './monitor/folder-monitor.js';
import { noopHandler } from './queue/noop-handler.js';
import { QueueRunner } from './queue/queue-runner.js';
import { WorkQueue } from './queue/work-queue.js';
import { DeliverHandler } from './routing/deliver-handler.js';
import { DELIVER_JOB } from './routing/enqueue.js';
import { SpoolSweeper } from './routing/spool.js';
import { ScheduleRunHandler } from './scheduler/schedule-run-handler.js';
import { SCHEDULE_RUN_JOB, Scheduler } from './scheduler/scheduler.js';
import { TransferLog } from './transfers/transfer-log.js';
import { VERSION } from './version.js';

/** What /health/ready and the metrics say before the node has joined the cluster. */
function startingStatus(config: Config, nodeId: string, reason: string): NodeStatus & { nodeId: string; name: string } {
  const databaseReachable = reason !== 'database unreachable';
  return { mode: config.cluster.mode, role: 'standby', ready: false, reason, state: 'active', databaseReachable, token: null, nodeId, name: config.node.name };
}

/** Whether the node's workers should accept client sessions now. */
function shouldServe(status: NodeStatus): boolean {
  return status.state === 'active' && (status.mode === 'active-active' || status.role === 'primary');
}

/**
 * The supervisor holds the node's identity: it serves the admin port (not ready
 * until the database answers; it waits for it), checks the database schema, registers
 * and heartbeats the node, takes part in leader election, runs the singleton
 * services while primary, serves the health endpoints, and keeps one worker per
 * core serving sessions on the shared listening sockets.
 */
export async function runSupervisor(config: Config): Promise<void> {
  const log = createLogger(config.log.level, { node: config.node.name });
  if (!hasNativeSshCrypto()) {
    log.warn("ssh2's native crypto binding (sshcrypto.node) is missing: SFTP will run at about half speed");
  }
  // A secret file that cannot be read stops the node here, before anything changed.
  const webhooks = resolveWebhooks(config.alerts);
  // So is a bad defender.safe_list, rather than every worker failing on it.
  parseSafeList(config.defender.safe_list);
  // So are SSH algorithm names ssh2 does not know (the workers use the same lists).
  resolveSshAlgorithms(config.sftp);
  fs.mkdirSync(config.data.dir, { recursive: true });
  fs.mkdirSync(config.storage.dir, { recursive: true });
  const database = openDatabase(config.database.url, { poolSize: 4 + config.queue.concurrency });
  const nodeId = loadNodeId(config.data.dir);
  const transfers = new TransferLog(database.db, config.storage.dir);
  const events = new ClusterEvents(database.db, log);
  const alerts = new AlertStore(database.db);
  const lease = new PrimaryLease(database.db, database.dialect, nodeId, config.cluster.lease_ttl);
  const housekeeping = new Housekeeping(
    database.db,
    database.dialect,
    events,
    {
      deadAfterMs: config.node.dead_after,
      storageDir: config.storage.dir,
      partialMaxAgeMs: config.storage.partial_max_age,
      jobRetentionMs: config.queue.retention,
      eventRetentionMs: config.cluster.event_retention,
      transferRetentionMs: config.transfers.retention,
      defenderForgetMs: config.defender.ban_time_max,
    },
    log,
  );
  let coordinator: Coordinator | undefined;
  // Until the node has joined the cluster: not ready, and why (the admin port answers from the start).
  let startingBecause = 'starting';
  const nodeStatus = () => {
    if (!coordinator) return startingStatus(config, nodeId, startingBecause);
    const status = { ...coordinator.status, nodeId, name: config.node.name };
    // Ready means clients can connect: wait until a worker confirms it listens.
    if (status.ready && !workers.accepting) return { ...status, ready: false, reason: 'workers not accepting yet' };
    return status;
  };
  const metrics = new NodeMetrics(
    { nodeId, name: config.node.name, version: VERSION, mode: config.cluster.mode, jobKinds: [DELIVER_JOB, SCHEDULE_RUN_JOB] },
    { status: nodeStatus, cluster: () => readClusterSnapshot(database.db, database.dialect) },
  );
  const tls = await adminTls({ cert: config.admin.tls_cert, key: config.admin.tls_key, dataDir: config.data.dir, nodeName: config.node.name });
  const admin = await startAdminServer({
    host: config.admin.host,
    port: config.admin.port,
    tls,
    db: database.db,
    dialect: database.dialect,
    deadAfterMs: config.node.dead_after,
    heartbeatIntervalMs: config.node.heartbeat_interval,
    sessionTtlMs: config.admin.session_ttl,
    loginRateLimit: config.admin.login_rate_limit,
    log,
    capacity: {
      windowMs: config.capacity.window,
      intervalMs: config.capacity.interval,
      nodeThroughput: config.capacity.node_throughput,
      mode: config.cluster.mode,
      minSamples: config.capacity.min_samples,
    },
    status: nodeStatus,
    metrics,
    defenderWindowMs: config.defender.window,
  });
  log.info({ adminPort: admin.port }, 'admin port up');
  // Events recorded before this node started are history: a webhook it registers does not get them.
  const alertsStartAfter = await waitForDatabase(
    'start',
    async () => {
      // A schema this Ferry does not know stops the node, the database unchanged (ferry db migrate upgrades it).
      await requireKnownSchema(database);
      const orphaned = await transfers.abortRowsOfNodes([nodeId], 'node restarted during the transfer');
      if (orphaned > 0) log.warn({ transfers: orphaned }, 'marked transfers of the previous run aborted');
      await loadHostKeys(database.db);
      const last = await alerts.lastEventId();
      startingBecause = 'starting';
      return last;
    },
    log,
    () => (startingBecause = 'database unreachable'),
  ).catch(async (err) => {
    // Nothing to wait for (a schema this Ferry does not know, a wrong password): close what holds the process open, then stop.
    await admin.server.close().catch(() => {});
    await database.close().catch(() => {});
    throw err;
  });
  const membership = new Membership(database.db, database.dialect, {
    nodeId,
    name: config.node.name,
    version: VERSION,
    mode: config.cluster.mode,
    sftpAddress: `${config.sftp.host}:${config.sftp.port}`,
    adminAddress: `${config.admin.host}:${admin.port}`,
  });
  const runner = new QueueRunner(
    new WorkQueue(database.db, database.dialect, nodeId, config.queue.lease_ttl),
    [
      new DeliverHandler(database.db, config.storage.dir, nodeId, log),
      new ScheduleRunHandler(database.db, config.storage.dir, nodeId, config.queue.max_attempts, log, () => runner.poll()),
      noopHandler,
    ],
    {
      concurrency: config.queue.concurrency,
      pollIntervalMs: config.queue.poll_interval,
      leaseTtlMs: config.queue.lease_ttl,
      maxAttempts: config.queue.max_attempts,
      retryDelayMs: config.queue.retry_delay,
      retryMaxDelayMs: config.queue.retry_max_delay,
    },
    log,
    {
      failed: (trx, job, error) =>
        events.record(
          {
            kind: 'delivery-failed',
            nodeId,
            nodeName: config.node.name,
            detail: `job ${job.id} (${job.kind}), transfer ${job.transfer_id ?? '-'}, attempt ${job.attempts} of ${job.max_attempts}: ${error}`,
          },
          trx,
        ),
      recorded: (job, outcome) => metrics.queueAttempt(job.kind, outcome.status),
    },
  );

  coordinator = new Coordinator(
    membership,
    lease,
    events,
    [
      { name: 'housekeeping', run: (leadership) => housekeeping.run(leadership) },
      new Scheduler(database.db, config.queue.max_attempts, log, () => runner.poll()),
      new SpoolSweeper(database.db, config.storage.dir),
      new FolderMonitor(database.db, config.storage.dir, config.monitor.interval, config.queue.max_attempts, log, () => runner.poll()),
      new AlertDispatcher(
        alerts,
        webhooks,
        {
          intervalMs: config.node.heartbeat_interval,
          retryDelayMs: config.alerts.retry_delay,
          retryMaxDelayMs: config.alerts.retry_max_delay,
          giveUpAfterMs: config.alerts.give_up_after,
          timeoutMs: config.alerts.timeout,
          startAfter: alertsStartAfter,
        },
        log,
        (webhook, result) => metrics.alertSent(webhook, result),
      ),
      new CapacityCheck(
        database.db,
        events,
        {
          intervalMs: config.capacity.interval,
          windowMs: config.capacity.window,
          checkIntervalMs: config.capacity.check_interval,
          capacity: config.capacity.node_throughput,
          mode: config.cluster.mode,
          minSamples: config.capacity.min_samples,
        },
        log,
      ),
    ],
    {
      mode: config.cluster.mode,
      heartbeatIntervalMs: config.node.heartbeat_interval,
      leaseTtlMs: config.cluster.lease_ttl,
      singletonIntervalMs: config.cluster.singleton_interval,
    },
    log,
  );

  const workers = new WorkerPool(config.node.workers, log, {
    onQueued: () => runner.poll(),
    onLoad: (sessions) => (coordinator!.sessions = sessions),
    onMetric: (pid, event) => metrics.workerEvent(pid, event),
    onCrash: (pid) => {
      metrics.forgetWorker(pid);
      return transfers
        .abortRowsOfWorker(nodeId, pid, 'worker process died during the transfer')
        .then(() => undefined)
        .catch((err) => log.error({ err: err.message }, 'could not mark the dead worker transfers aborted'));
    },
  });
  await workers.start();

  let draining: Promise<void> | undefined;
  const drain = async (deadline: number) => {
    log.warn({ deadline: new Date(deadline).toISOString() }, 'draining: no new sessions, finishing transfers');
    while (workers.openTransfers > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await workers.closeSessions('node drained during the transfer');
    await coordinator!.setState('drained');
    await events.record({ kind: 'node-drained', nodeId, nodeName: config.node.name });
    log.warn('drained');
  };
  coordinator.on('heartbeat', (seconds: number) => metrics.databaseRoundTrip(seconds));
  coordinator.on('status', (status: NodeStatus) => {
    void workers.serve(shouldServe(status));
    runner.setActive(shouldServe(status));
    if (status.state === 'draining' && !draining) draining = drain(coordinator!.drainDeadline ?? Date.now());
    if (status.state === 'active') draining = undefined;
  });
  await waitForDatabase(
    'join the cluster',
    () => coordinator!.start(),
    log,
    () => (startingBecause = 'database unreachable'),
  );
  await workers.serve(shouldServe(coordinator.status));
  runner.setActive(shouldServe(coordinator.status));
  log.info(
    {
      nodeId,
      sftpPort: workers.port || config.sftp.port,
      adminPort: admin.port,
      workers: workers.size,
      mode: config.cluster.mode,
      role: coordinator.status.role,
      database: database.displayUrl,
      storage: config.storage.dir,
      version: VERSION,
    },
    'node ready',
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceMs: config.shutdown.grace }, 'shutting down: no new sessions, finishing transfers');
    await Promise.all([workers.stop(config.shutdown.grace), runner.stop(config.shutdown.grace)]);
    await coordinator!.stop();
    await transfers.abortRowsOfNodes([nodeId], 'node shut down during the transfer').catch(() => 0);
    await admin.server.close();
    await database.close();
    log.info('node stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
