/**
 * The benchmark's view of Ferry's work queue: it enqueues straight into the
 * database (as an upload's transaction does) and watches the jobs table until a
 * batch is done. Times come from the database rows (epoch ms stamped by the nodes
 * on this same machine), so the 50 ms polling does not blur them.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.js';
import { enqueueJob } from '../../src/queue/work-queue.js';
import { NOOP_JOB } from '../../src/queue/noop-handler.js';
import { enqueueDeliveries } from '../../src/routing/enqueue.js';
import { sleep } from '../cluster/teardown.js';

/** The ids of one enqueued batch (nothing else enqueues while the benchmark runs). */
export interface Batch {
  firstId: number;
  lastId: number;
  count: number;
  /** Date.now() right after the enqueueing transaction committed. */
  committedAt: number;
  /** How long the enqueueing transaction took (not part of the measured time). */
  enqueueMs: number;
}

async function maxJobId(db: Kysely<Database>): Promise<number> {
  const row = await sql<{ m: number | null }>`select max(id) as m from jobs`.execute(db);
  return Number(row.rows[0]?.m ?? 0);
}

async function batchAfter(db: Kysely<Database>, before: number, started: number): Promise<Batch> {
  const committedAt = Date.now();
  const row = await sql<{ lo: number; hi: number; n: number }>`select min(id) as lo, max(id) as hi, count(*) as n from jobs where id > ${before}`.execute(db);
  const r = row.rows[0]!;
  return { firstId: Number(r.lo), lastId: Number(r.hi), count: Number(r.n), committedAt, enqueueMs: performance.now() - started };
}

/** `count` no-op jobs in one transaction, through the queue's own enqueueJob. */
export async function enqueueNoops(db: Kysely<Database>, count: number, maxAttempts: number): Promise<Batch> {
  const before = await maxJobId(db);
  const started = performance.now();
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < count; i++) await enqueueJob(trx, { kind: NOOP_JOB, payload: { bench: i }, maxAttempts });
  });
  const batch = await batchAfter(db, before, started);
  if (batch.count !== count) throw new Error(`enqueued ${count} no-op jobs but the jobs table holds ${batch.count} new rows`);
  return batch;
}

/**
 * One upload event per file, in one transaction, through enqueueDeliveries: the
 * same jobs and transfer-log rows a completed upload makes, one per matching route.
 */
export async function enqueueUploads(
  db: Kysely<Database>,
  account: string,
  files: Array<{ path: string; size: number }>,
  maxAttempts: number,
  storageDir: string,
): Promise<Batch> {
  const before = await maxJobId(db);
  const started = performance.now();
  let queued = 0;
  await db.transaction().execute(async (trx) => {
    for (const f of files)
      queued += await enqueueDeliveries(trx, { event: 'upload', account, path: f.path, size: f.size, sha256: null }, { maxAttempts, storageDir });
  });
  const batch = await batchAfter(db, before, started);
  if (queued !== files.length || batch.count !== files.length) {
    throw new Error(`${files.length} files should each have matched one route: ${queued} deliveries queued, ${batch.count} new jobs`);
  }
  return batch;
}

export interface BatchResult {
  /** Commit -> the last job's completion (its updated_at). */
  wallMs: number;
  /** Commit -> the first job seen claimed (50 ms polling; mostly the nodes' 1 s idle poll). */
  pickupMs: number;
  /** First claim seen -> last completion. */
  busyMs: number;
}

/**
 * Polls the batch's jobs until every one is completed. Throws at the first failed
 * job (with its error), when nothing progresses for stallMs, after timeoutMs, or
 * when the run is aborted.
 */
export async function waitForBatch(
  db: Kysely<Database>,
  batch: Batch,
  limits: { timeoutMs: number; stallMs: number; signal: AbortSignal; progress?: (done: number) => void },
): Promise<BatchResult> {
  const deadline = performance.now() + limits.timeoutMs;
  let pickedAt: number | undefined;
  let lastDone = -1;
  let lastChange = performance.now();
  for (let i = 0; i < 10_000_000; i++) {
    if (limits.signal.aborted) throw limits.signal.reason;
    const r = (
      await sql<{ done: number; failed: number; picked: number }>`
        select count(*) filter (where status = 'completed') as done,
               count(*) filter (where status = 'failed') as failed,
               count(*) filter (where status <> 'queued' or attempts > 0) as picked
        from jobs where id between ${batch.firstId} and ${batch.lastId}`.execute(db)
    ).rows[0]!;
    const done = Number(r.done);
    const failed = Number(r.failed);
    if (pickedAt === undefined && Number(r.picked) > 0) pickedAt = Date.now();
    if (failed > 0) {
      const bad = await db
        .selectFrom('jobs')
        .select(['id', 'last_error'])
        .where('id', '>=', batch.firstId)
        .where('id', '<=', batch.lastId)
        .where('status', '=', 'failed')
        .limit(3)
        .execute();
      throw new Error(`${failed} job(s) failed, e.g. ${bad.map((b) => `job ${b.id}: ${b.last_error}`).join('; ')}`);
    }
    if (done === batch.count) break;
    if (done !== lastDone) {
      lastDone = done;
      lastChange = performance.now();
      limits.progress?.(done);
    } else if (performance.now() - lastChange > limits.stallMs) {
      throw new Error(`no job of the batch completed for ${limits.stallMs / 1000} s (${done} of ${batch.count} done)`);
    }
    if (performance.now() > deadline) throw new Error(`batch not done within ${limits.timeoutMs / 1000} s (${done} of ${batch.count} completed)`);
    await sleep(50, limits.signal);
  }
  const end = (await sql<{ t: number }>`select max(updated_at) as t from jobs where id between ${batch.firstId} and ${batch.lastId}`.execute(db)).rows[0]!;
  const endAt = Number(end.t);
  pickedAt ??= endAt;
  return { wallMs: endAt - batch.committedAt, pickupMs: pickedAt - batch.committedAt, busyMs: endAt - pickedAt };
}

/** Per node name: completed delivery attempts of the batch. */
export async function attemptsPerNode(db: Kysely<Database>, batch: Batch): Promise<Record<string, number>> {
  const rows = await sql<{ name: string | null; node_id: string; n: number }>`
    select n.name, a.node_id, count(*) as n from job_attempts a left join nodes n on n.id = a.node_id
    where a.job_id between ${batch.firstId} and ${batch.lastId} and a.status = 'completed'
    group by n.name, a.node_id order by n.name`.execute(db);
  return Object.fromEntries(rows.rows.map((r) => [r.name ?? r.node_id, Number(r.n)]));
}

/** Every attempt of the batch, as (ended - started) ms, and how many attempts there were. */
export async function attemptDurations(db: Kysely<Database>, batch: Batch): Promise<{ ms: number[]; attempts: number }> {
  const rows = await db
    .selectFrom('job_attempts')
    .select(['started_at', 'ended_at', 'status'])
    .where('job_id', '>=', batch.firstId)
    .where('job_id', '<=', batch.lastId)
    .execute();
  return {
    ms: rows.filter((r) => r.status === 'completed' && r.ended_at !== null).map((r) => Number(r.ended_at) - Number(r.started_at)),
    attempts: rows.length,
  };
}

/** Status -> count of the batch's rows in the transfer log (direction 'delivery'). */
export async function transferStatuses(db: Kysely<Database>, batch: Batch): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; n: number }>`
    select status, count(*) as n from transfers
    where direction = 'delivery' and job_id between ${batch.firstId} and ${batch.lastId} group by status`.execute(db);
  return Object.fromEntries(rows.rows.map((r) => [r.status, Number(r.n)]));
}
