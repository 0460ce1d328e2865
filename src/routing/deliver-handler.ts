import fs from 'node:fs';
import path from 'node:path';
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.js';
import { PermanentJobError, type AttemptOutcome, type JobContext, type JobHandler } from '../queue/queue-runner.js';
import type { JobRow } from '../queue/work-queue.js';
import type { Home } from '../storage/home.js';
import { recordDeliveryAttemptStarted, recordDeliveryOutcome } from '../transfers/delivery-rows.js';
import { homeOfAccount } from './account-home.js';
import type { Delivery, DeliveryResult, StepCheckpoint } from './connectors/connector.js';
import { pushOverHttps } from './connectors/https-push.js';
import { copyToAccount } from './connectors/local-copy.js';
import { SftpConnectionPool } from './connectors/sftp-pool.js';
import { pushOverSftp } from './connectors/sftp-push.js';
import type { SourceFile } from './connectors/source-file.js';
import { DELIVER_JOB, type DeliverPayload } from './enqueue.js';
import { PartnerStore, partnerSettings } from './partners.js';
import { renameFile } from './rename-pattern.js';
import { spoolPath } from './spool.js';
import type { DeliveryStep } from './routes.js';

interface DeliverCheckpoint {
  /** Steps before this index are done. */
  step: number;
  delivery?: StepCheckpoint;
}

interface AttemptResult {
  bytes: number;
  sha256: string | null;
  destinations: string[];
  resumedAt: number;
}

/**
 * Runs a route's deliveries for one file, step by step with a checkpoint after
 * each, then deletes or archives the source if the route says so (only the very
 * version that was delivered). Keeps the delivery's row in the transfer log and
 * one history row per attempt.
 */
export class DeliverHandler implements JobHandler {
  readonly kind = DELIVER_JOB;
  private readonly partners: PartnerStore;
  private readonly connections = new SftpConnectionPool();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly storageDir: string,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {
    this.partners = new PartnerStore(db);
  }

  /**
   * Records the start of an attempt. Attempts are numbered over the delivery's whole
   * life (1, 2, ... across resubmits): the job's own `attempts` starts again at 0 on
   * a resubmit, since it counts toward queue.max_attempts of the current round.
   */
  async started(job: JobRow): Promise<void> {
    const now = Date.now();
    await this.db.transaction().execute(async (trx) => {
      const previous = await trx
        .selectFrom('job_attempts')
        .select((eb) => eb.fn.max('attempt').as('last'))
        .where('job_id', '=', job.id)
        .executeTakeFirst();
      const attempt = Number(previous?.last ?? 0) + 1;
      await trx
        .updateTable('job_attempts')
        .set({ status: 'lost', ended_at: now, error: 'the node working on it stopped' })
        .where('job_id', '=', job.id)
        .where('status', '=', 'running')
        .execute();
      await trx
        .insertInto('job_attempts')
        .values({ job_id: job.id, attempt, node_id: this.nodeId, started_at: now, status: 'running', bytes: 0, error: null })
        .execute();
      if (job.transfer_id !== null) {
        await recordDeliveryAttemptStarted(trx, job.transfer_id, { nodeId: this.nodeId, workerPid: process.pid, number: attempt });
      }
    });
  }

  async run(ctx: JobContext): Promise<AttemptResult> {
    const payload = ctx.payload as DeliverPayload;
    const { job } = ctx;
    const log = this.log.child({ job: job.id, origin: payload.origin, path: payload.path });
    const sourceHome = await homeOfAccount(this.db, this.storageDir, payload.account);
    const { source, inode } = this.pinnedSource(job.id, payload.path);
    const targetName = renameFile(payload.rename, { name: source.name, queuedAt: payload.nameTime ?? job.created_at, jobId: job.id });
    const checkpoint = ctx.checkpoint as DeliverCheckpoint | undefined;
    const result: AttemptResult = { bytes: 0, sha256: null, destinations: [], resumedAt: 0 };

    for (let step = checkpoint?.step ?? 0; step < payload.steps.length; step++) {
      const delivery: Delivery = {
        source,
        targetName,
        jobId: job.id,
        checkpoint: checkpoint?.step === step ? checkpoint.delivery : undefined,
        saveCheckpoint: (c) => ctx.saveCheckpoint({ step, delivery: c } satisfies DeliverCheckpoint),
        signal: ctx.signal,
        log,
      };
      const done = await this.deliverStep(payload.steps[step]!, delivery);
      result.bytes += done.bytes;
      result.sha256 = done.sha256;
      result.resumedAt = Math.max(result.resumedAt, done.resumedAt);
      result.destinations.push(done.destination);
      // The last step needs no checkpoint: the job's completion records it.
      if (step + 1 < payload.steps.length) await ctx.saveCheckpoint({ step: step + 1 } satisfies DeliverCheckpoint);
      log.info({ destination: done.destination, bytes: done.bytes, resumedAt: done.resumedAt }, 'delivered');
    }
    if (payload.after) this.afterDelivery(sourceHome, payload, inode, log);
    return result;
  }

  private async deliverStep(step: DeliveryStep, delivery: Delivery): Promise<DeliveryResult> {
    if (step.type === 'copy') {
      const home = await homeOfAccount(this.db, this.storageDir, step.account);
      const dir = home.resolve(step.dir);
      return copyToAccount(delivery, { dir: dir.real, partialDir: home.partialDir, label: `account:${step.account}${dir.virtual === '/' ? '' : dir.virtual}` });
    }
    const row = await this.partners.find(step.partner);
    if (!row) throw new PermanentJobError(`partner "${step.partner}" no longer exists`);
    const settings = partnerSettings(row);
    if (settings.protocol === 'https') return pushOverHttps(settings, delivery);
    return this.connections.use(
      settings,
      (key) => this.partners.pinHostKey(step.partner, key),
      delivery.signal,
      (remote) => pushOverSftp(settings, delivery, remote),
    );
  }

  /** Deletes or archives the source, if the path still holds the version that was delivered. */
  private afterDelivery(home: Home, payload: DeliverPayload, inode: bigint, log: Logger): void {
    const original = home.resolve(payload.path);
    let now: fs.BigIntStats;
    try {
      now = fs.statSync(original.real, { bigint: true });
    } catch {
      return; // already gone (another route deleted or archived it)
    }
    if (now.ino !== inode) {
      log.warn({ after: payload.after }, 'the source was replaced after it was queued; left in place');
      return;
    }
    if (payload.after === 'delete') {
      fs.unlinkSync(original.real);
      return;
    }
    const day = new Date().toISOString().slice(0, 10);
    const dir = home.resolve(`/archive/${day}`);
    fs.mkdirSync(dir.real, { recursive: true });
    const name = path.posix.basename(original.virtual);
    let target = path.join(dir.real, name);
    if (fs.existsSync(target)) target += `.${Date.now()}`;
    fs.renameSync(original.real, target);
  }

  /** The file version this job was queued for, pinned in the spool (see spool.ts). */
  private pinnedSource(jobId: number, virtual: string): { source: SourceFile; inode: bigint } {
    const pinned = spoolPath(this.storageDir, jobId);
    let stats: fs.BigIntStats;
    try {
      stats = fs.statSync(pinned, { bigint: true });
    } catch {
      throw new PermanentJobError(`the version of ${virtual} queued for delivery is gone from the spool (${pinned})`);
    }
    return { source: { absPath: pinned, name: path.posix.basename(virtual), size: Number(stats.size) }, inode: stats.ino };
  }

  async record(trx: Transaction<Database>, job: JobRow, outcome: AttemptOutcome, completed: unknown): Promise<void> {
    const result = completed as AttemptResult | undefined;
    const now = Date.now();
    const error = outcome.status === 'completed' ? null : outcome.error;
    await trx
      .updateTable('job_attempts')
      .set({ status: outcome.status === 'completed' ? 'completed' : 'failed', ended_at: now, bytes: result?.bytes ?? 0, error })
      // This node's running attempt: started() marked any other one lost, and the queue runs this only under the job's lease.
      .where('job_id', '=', job.id)
      .where('node_id', '=', this.nodeId)
      .where('status', '=', 'running')
      .execute();
    if (job.transfer_id === null) return;
    await recordDeliveryOutcome(
      trx,
      job.transfer_id,
      job.id,
      outcome.status !== 'completed'
        ? { status: outcome.status, error: outcome.error }
        : result
          ? { status: 'completed', bytes: result.bytes, sha256: result.sha256, resumedAt: result.resumedAt, destinations: result.destinations }
          : { status: 'completed-unrecorded' },
    );
  }
}
