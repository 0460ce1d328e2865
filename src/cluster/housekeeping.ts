import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Leadership } from './coordinator.js';
import type { Logger } from 'pino';
import { dbNow } from '../db/clock.js';
import type { Dialect } from '../db/connect.js';
import type { Database } from '../db/schema.js';
import type { ClusterEvents } from './events.js';
import { silentNodes } from './membership.js';
import { purgeCompletedJobs } from '../queue/work-queue.js';
import { purgeDefenderHosts } from '../accounts/defender.js';
import { TransferLog } from '../transfers/transfer-log.js';

export interface HousekeepingOptions {
  deadAfterMs: number;
  storageDir: string;
  partialMaxAgeMs: number;
  /** Completed queue jobs older than this are deleted (their transfer rows stay). */
  jobRetentionMs: number;
  /** Cluster events (and their alert deliveries) older than this are deleted. */
  eventRetentionMs: number;
  /** Defender records without a failure or ban for this long are deleted. */
  defenderForgetMs?: number;
  /** Transfer-log rows that ended longer ago than this are deleted; 0 keeps them. */
  transferRetentionMs: number;
}

const PARTIAL_SWEEP_INTERVAL_MS = 60_000;

/**
 * The primary's housekeeping: declares silent nodes lost, marks their unfinished
 * transfers aborted, removes stale partial uploads, and purges completed jobs and
 * old cluster events. Every database write is
 * fenced with the primary's lease token.
 */
export class Housekeeping {
  private lastPartialSweep = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly events: ClusterEvents,
    private readonly options: HousekeepingOptions,
    private readonly log: Logger,
  ) {}

  async run({ fence, token }: Leadership): Promise<void> {
    for (const node of await silentNodes(this.db, this.dialect, this.options.deadAfterMs)) {
      const marked = await this.db
        .updateTable('nodes')
        .set({ lost_at: dbNow(this.dialect), ready: 0 })
        .where('id', '=', node.id)
        .where('lost_at', 'is', null)
        .where(fence)
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) === 1) {
        this.log.warn({ lostNode: node.name, lostNodeId: node.id }, 'node lost');
        await this.events.recordFenced(
          { kind: 'node-lost', nodeId: node.id, nodeName: node.name, detail: `heartbeat stopped; declared by primary token ${token}` },
          fence,
        );
      }
    }
    const aborted = await new TransferLog(this.db, this.options.storageDir).abortRowsOfSilentNodes(this.dialect, this.options.deadAfterMs, fence);
    if (aborted > 0) this.log.warn({ transfers: aborted }, 'marked transfers of silent nodes aborted');
    if (Date.now() - this.lastPartialSweep >= PARTIAL_SWEEP_INTERVAL_MS) {
      this.lastPartialSweep = Date.now();
      const removed = removeStalePartials(this.options.storageDir, this.options.partialMaxAgeMs);
      if (removed > 0) this.log.info({ removed }, 'removed stale partial uploads');
      const purged = await purgeCompletedJobs(this.db, Date.now() - this.options.jobRetentionMs, fence);
      if (purged > 0) this.log.info({ purged }, 'purged completed queue jobs');
      const events = await this.events.purge(Date.now() - this.options.eventRetentionMs, fence);
      if (events > 0) this.log.info({ events }, 'purged old cluster events');
      if (this.options.defenderForgetMs !== undefined) {
        const hosts = await purgeDefenderHosts(this.db, Date.now() - this.options.defenderForgetMs, fence);
        if (hosts > 0) this.log.info({ hosts }, 'purged expired defender records');
      }
      if (this.options.transferRetentionMs > 0) {
        const transfers = await new TransferLog(this.db).purgeEnded(Date.now() - this.options.transferRetentionMs, fence);
        if (transfers > 0) this.log.info({ transfers }, 'purged old transfer-log rows');
      }
    }
  }
}

/** Deletes partial uploads untouched for longer than maxAgeMs. */
export function removeStalePartials(storageDir: string, maxAgeMs: number): number {
  const root = path.join(storageDir, '.partial');
  const cutoff = Date.now() - maxAgeMs;
  let removed = 0;
  let accounts: string[];
  try {
    accounts = fs.readdirSync(root);
  } catch {
    return 0;
  }
  for (const account of accounts) {
    const dir = path.join(root, account);
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const file = path.join(dir, name);
      try {
        // lstat: an upload's lock is a symbolic link (storage/upload-lock.ts), removed as itself.
        if (fs.lstatSync(file).mtimeMs < cutoff) {
          fs.unlinkSync(file);
          removed++;
        }
      } catch {}
    }
  }
  return removed;
}
