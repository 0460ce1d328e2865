import { sql, type Expression, type Kysely, type Selectable, type SqlBool, type Transaction } from 'kysely';
import fs from 'node:fs';
import { dbNow } from '../db/clock.js';
import type { Dialect } from '../db/connect.js';
import { PreparedQuery } from '../db/prepared-query.js';
import { partialPathFor } from '../storage/home.js';
import type { Database, TransferDirection, TransferStatus, TransfersTable } from '../db/schema.js';

export type TransferRecord = Selectable<TransfersTable>;

export interface TransferStart {
  nodeId: string;
  /** The worker process on that node, so a crashed worker's rows can be found. */
  workerPid: number;
  sessionId: string;
  account: string;
  protocol: string;
  clientAddress: string;
  path: string;
  direction: TransferDirection;
  startOffset: number;
}

export interface TransferEnd {
  status: Exclude<TransferStatus, 'in-progress'>;
  bytes: number;
  /** Set when the start offset is only known at the end (a download resumed with reget). */
  startOffset?: number;
  sha256?: string | null;
  error?: string | null;
  /** The stamp of the file version whose whole SHA-256 this transfer recorded. */
  fileStamp?: string;
  /** The transfer carried its whole file, from byte 0 to the end (uploads and downloads). */
  wholeFile?: boolean;
}

/** Work done in the transaction that ends a transfer, given the row it ended. */
export type AfterFinish = (trx: Transaction<Database>, row: Pick<TransferRecord, 'account' | 'path' | 'direction' | 'start_offset'>) => Promise<void>;

export interface TransferQuery {
  account?: string;
  status?: TransferStatus;
  direction?: TransferRecord['direction'];
  /** Paths containing this text, ignoring case. */
  pathContains?: string;
  /** Started at or after / before these times (epoch ms). */
  since?: number;
  until?: number;
  /** Only rows with a smaller id: the next page after the last row seen. */
  beforeId?: number;
  limit?: number;
}

/** Completed transfers of one direction that ended within one minute. */
export interface MinuteTotal {
  /** The minute's first millisecond (epoch ms). */
  minute: number;
  direction: TransferDirection;
  bytes: number;
  count: number;
}

interface InsertParams extends TransferStart {
  startedAt: number;
}

interface EndParams {
  id: number;
  status: TransferEnd['status'];
  bytes: number;
  sha256: string | null;
  error: string | null;
  endedAt: number;
  startOffset: number | null;
  fileStamp: string | null;
  wholeFile: number | null;
}

function endParams(id: number, end: TransferEnd): EndParams {
  return {
    id,
    status: end.status,
    bytes: end.bytes,
    sha256: end.sha256 ?? null,
    error: end.error ?? null,
    endedAt: Date.now(),
    startOffset: end.startOffset ?? null,
    fileStamp: end.fileStamp ?? null,
    wholeFile: end.wholeFile === undefined ? null : end.wholeFile ? 1 : 0,
  };
}

/** A LIKE pattern matching `text` anywhere, its own % and _ taken literally. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
}

/**
 * The transfer log: one row per upload or download, written when it starts and
 * when it ends (two statements per transfer, none per packet).
 */
export class TransferLog {
  // The statements every transfer runs, built once (db/prepared-query.ts).
  private readonly insertRow: PreparedQuery<InsertParams, { id: number | bigint }>;
  private readonly endRow: PreparedQuery<EndParams, unknown>;
  private readonly endRowReturning: PreparedQuery<EndParams, Pick<TransferRecord, 'account' | 'path' | 'direction' | 'start_offset'>>;
  private readonly endRowUnlessRouted: PreparedQuery<EndParams, unknown>;

  constructor(
    private readonly db: Kysely<Database>,
    /** Where partial uploads are, so a dead worker's aborted uploads can record the bytes they left. */
    private readonly storageDir?: string,
  ) {
    this.insertRow = new PreparedQuery(db, (p: InsertParams) =>
      db
        .insertInto('transfers')
        .values({
          node_id: p.nodeId,
          worker_pid: p.workerPid,
          session_id: p.sessionId,
          account: p.account,
          protocol: p.protocol,
          client_address: p.clientAddress,
          path: p.path,
          direction: p.direction,
          start_offset: p.startOffset,
          bytes: 0,
          started_at: p.startedAt,
          status: 'in-progress',
        })
        .returning('id'),
    );
    const end = (p: EndParams) =>
      db
        .updateTable('transfers')
        .set({
          status: p.status,
          bytes: p.bytes,
          sha256: p.sha256,
          error: p.error,
          ended_at: p.endedAt,
          // Left as they are when not given (null).
          start_offset: sql<number>`coalesce(${p.startOffset}, start_offset)`,
          file_stamp: sql<string | null>`coalesce(${p.fileStamp}, file_stamp)`,
          whole_file: p.wholeFile,
        })
        .where('id', '=', p.id)
        .where('status', 'in', ['in-progress', 'aborted']);
    this.endRow = new PreparedQuery(db, end);
    this.endRowReturning = new PreparedQuery(db, (p: EndParams) => end(p).returning(['account', 'path', 'direction', 'start_offset']));
    this.endRowUnlessRouted = new PreparedQuery(db, (p: EndParams) =>
      end(p).where(({ not, exists, selectFrom, ref }) =>
        not(
          exists(
            selectFrom('routes')
              .select('routes.id')
              .where('routes.account', '=', ref('transfers.account'))
              .where('routes.on_event', '=', 'upload')
              .where('routes.enabled', '=', 1),
          ),
        ),
      ),
    );
  }

  async start(t: TransferStart): Promise<number> {
    const { rows } = await this.insertRow.execute(this.db, { ...t, startedAt: Date.now() });
    return Number(rows[0]!.id);
  }

  /**
   * Ends a transfer. Only the worker that ran it calls this, so its word wins over
   * an 'aborted' a peer presumed while this node could not heartbeat.
   */
  async finish(id: number, end: TransferEnd, then?: AfterFinish): Promise<void> {
    const params = endParams(id, end);
    if (!then) {
      await this.endRow.execute(this.db, params);
      return;
    }
    // What the end of the transfer causes commits with it, or not at all.
    await this.db.transaction().execute(async (trx) => {
      const row = (await this.endRowReturning.execute(trx, params)).rows[0];
      if (row) await then(trx, { ...row, start_offset: Number(row.start_offset) });
    });
  }

  /**
   * Ends a completed upload. When its row's account has no enabled upload route, that is
   * one statement (the check is part of it: a route added meanwhile is either seen
   * or applies from the next upload on); otherwise the end and the deliveries
   * `routeUpload` queues commit together, as finish() with `then` does.
   */
  async finishUpload(id: number, end: TransferEnd, routeUpload: AfterFinish): Promise<void> {
    const { numAffectedRows } = await this.endRowUnlessRouted.execute(this.db, endParams(id, end));
    if (numAffectedRows === 1n) return;
    // Routed, or the row is not open (then the transaction finds nothing to end either).
    await this.finish(id, end, routeUpload);
  }

  async knownSha256(account: string, path: string, fileStamp: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('transfers')
      .select('sha256')
      .where('account', '=', account)
      .where('path', '=', path)
      .where('file_stamp', '=', fileStamp)
      .where('status', '=', 'completed')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.sha256 ?? undefined;
  }

  /** The newest rows that match, newest first: a status alone is read in that order from (status, id). */
  listQuery(query: TransferQuery = {}) {
    let q = this.db.selectFrom('transfers').selectAll();
    if (query.account) q = q.where('account', '=', query.account);
    if (query.status) q = q.where('status', '=', query.status);
    if (query.direction) q = q.where('direction', '=', query.direction);
    // lower() on both sides: SQLite's LIKE ignores ASCII case and PostgreSQL's does not; the search should behave the same on both.
    if (query.pathContains) q = q.where(sql<boolean>`lower(path) like lower(${containsPattern(query.pathContains)}) escape '\\'`);
    if (query.since !== undefined) q = q.where('started_at', '>=', query.since);
    if (query.until !== undefined) q = q.where('started_at', '<', query.until);
    if (query.beforeId !== undefined) q = q.where('id', '<', query.beforeId);
    return q.orderBy('id', 'desc').limit(query.limit ?? 100);
  }

  async list(query: TransferQuery = {}): Promise<TransferRecord[]> {
    return this.listQuery(query).execute();
  }

  /**
   * Rows that started in [since, until), in id order, `pageSize` at a time
   * (export and the capacity report: memory stays bounded however long the log).
   */
  async *pages(range: { since: number; until?: number; completedFilesOnly?: boolean }, pageSize = 1000): AsyncGenerator<TransferRecord[]> {
    for (let after = 0; ;) {
      let q = this.db.selectFrom('transfers').selectAll().where('started_at', '>=', range.since).where('id', '>', after);
      if (range.until !== undefined) q = q.where('started_at', '<', range.until);
      // Completed uploads and downloads: deliveries' times include queue waits.
      if (range.completedFilesOnly) q = q.where('status', '=', 'completed').where('direction', 'in', ['upload', 'download']);
      const page = await q.orderBy('id').limit(pageSize).execute();
      if (page.length > 0) yield page;
      if (page.length < pageSize) return;
      after = Number(page[page.length - 1]!.id);
    }
  }

  /**
   * Completed transfers that ended at or after `since` (epoch ms), summed per minute of
   * their end and direction. Read through the partial index of completed rows by end time: however
   * long the log, the console asks this every few seconds.
   */
  completedPerMinuteQuery(since: number) {
    const minute = sql<number>`(ended_at / 60000) * 60000`;
    return (
      this.db
        .selectFrom('transfers')
        .select([minute.as('minute'), 'direction', sql<number>`sum(bytes)`.as('bytes'), sql<number>`count(*)`.as('count')])
        // A literal, not a parameter: it must match the partial index's own condition where the query is planned.
        .where('status', '=', sql.lit('completed'))
        .where('ended_at', '>=', since)
        .groupBy([minute, 'direction'])
    );
  }

  async completedPerMinute(since: number): Promise<MinuteTotal[]> {
    const rows = await this.completedPerMinuteQuery(since).execute();
    return rows
      .map((r) => ({ minute: Number(r.minute), direction: r.direction, bytes: Number(r.bytes), count: Number(r.count) }))
      .sort((a, b) => a.minute - b.minute || a.direction.localeCompare(b.direction));
  }

  async get(id: number): Promise<TransferRecord | undefined> {
    return this.db.selectFrom('transfers').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Deletes rows that started and ended before `before` (epoch ms), `batchSize` at a
   * time and at most `maxBatches` batches, oldest first: a long log shrinks over
   * several housekeeping runs without one long statement. Rows in progress or
   * queued, and rows a queue job still points at, stay. Fenced: only the primary
   * purges. Returns how many rows went.
   */
  async purgeEnded(before: number, fence: Expression<SqlBool>, batchSize = 1000, maxBatches = 10): Promise<number> {
    let purged = 0;
    for (let batch = 0; batch < maxBatches; batch++) {
      const old = this.db
        .selectFrom('transfers')
        .select('id')
        .where('started_at', '<', before)
        .where('ended_at', '<', before)
        .where('status', 'not in', ['in-progress', 'queued'])
        .where(({ not, exists, selectFrom, ref }) => not(exists(selectFrom('jobs').select('jobs.id').where('jobs.transfer_id', '=', ref('transfers.id')))))
        .orderBy('id')
        .limit(batchSize);
      const result = await this.db.deleteFrom('transfers').where('id', 'in', old).where(fence).executeTakeFirst();
      const n = Number(result.numDeletedRows);
      purged += n;
      if (n < batchSize) break;
    }
    return purged;
  }

  /** Marks in-progress rows of one crashed worker process aborted. */
  async abortRowsOfWorker(nodeId: string, workerPid: number, reason: string): Promise<number> {
    const result = await this.db
      .updateTable('transfers')
      .set({ status: 'aborted', error: reason, ended_at: Date.now() })
      .where('status', '=', 'in-progress')
      .where('direction', '!=', 'delivery')
      .where('node_id', '=', nodeId)
      .where('worker_pid', '=', workerPid)
      .returning(['id', 'account', 'path', 'direction'])
      .execute();
    await this.recordPartialBytes(result);
    return result.length;
  }

  /**
   * Marks in-progress rows of the given nodes aborted: their node died (or restarted)
   * before it could record an end. Returns how many rows changed.
   */
  async abortRowsOfNodes(nodeIds: string[], reason: string): Promise<number> {
    if (nodeIds.length === 0) return 0;
    const result = await this.db
      .updateTable('transfers')
      .set({ status: 'aborted', error: reason, ended_at: Date.now() })
      .where('status', '=', 'in-progress')
      .where('direction', '!=', 'delivery')
      .where('node_id', 'in', nodeIds)
      .returning(['id', 'account', 'path', 'direction'])
      .execute();
    await this.recordPartialBytes(result);
    return result.length;
  }

  /**
   * Marks in-progress rows of nodes whose heartbeat stopped (on the database's clock)
   * aborted, with the bytes their partial files hold: their process died before it
   * could record an end. One fenced statement: only the primary's housekeeping does it.
   */
  async abortRowsOfSilentNodes(dialect: Dialect, deadAfterMs: number, fence: Expression<SqlBool>): Promise<number> {
    const result = await this.db
      .updateTable('transfers')
      .set({ status: 'aborted', error: 'node stopped heartbeating during the transfer', ended_at: Date.now() })
      .where('status', '=', 'in-progress')
      // A delivery belongs to its queue job: another node takes it over when the job's lease runs out.
      .where('direction', '!=', 'delivery')
      .where(
        'node_id',
        'in',
        this.db
          .selectFrom('nodes')
          .select('id')
          .where('heartbeat_at', '<', sql<number>`${dbNow(dialect)} - ${deadAfterMs}`),
      )
      .where(fence)
      .returning(['id', 'account', 'path', 'direction'])
      .execute();
    await this.recordPartialBytes(result, fence);
    return result.length;
  }

  /**
   * Sets the bytes of upload rows just marked aborted for a dead worker or node to
   * what their partial files hold: the worker could not say (its sessions record
   * the same when they end). One statement per upload: this happens after a crash,
   * not per file. Fenced when the primary does it for another node.
   */
  async recordPartialBytes(rows: Array<Pick<TransferRecord, 'id' | 'account' | 'path' | 'direction'>>, fence?: Expression<SqlBool>): Promise<void> {
    const uploads = rows.filter((r) => r.direction === 'upload');
    if (!this.storageDir || uploads.length === 0) return;
    const accounts = await this.db
      .selectFrom('accounts')
      .select(['id', 'name'])
      .where('name', 'in', [...new Set(uploads.map((r) => r.account))])
      .execute();
    for (const row of uploads) {
      const account = accounts.find((a) => a.name === row.account);
      if (!account) continue;
      const size = fs.statSync(partialPathFor(this.storageDir, Number(account.id), row.path), { throwIfNoEntry: false })?.size;
      if (size === undefined) continue;
      let update = this.db.updateTable('transfers').set({ bytes: size }).where('id', '=', Number(row.id)).where('status', '=', 'aborted');
      if (fence) update = update.where(fence);
      await update.execute();
    }
  }
}

export const TRANSFER_STATUSES: TransferStatus[] = ['queued', 'in-progress', 'completed', 'failed', 'aborted'];
