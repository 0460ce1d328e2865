import { sql, type Kysely } from 'kysely';
import { currentLease } from '../cluster/lease.js';
import type { Dialect } from '../db/connect.js';
import type { Database } from '../db/schema.js';

/** The queue states counted in metrics: work waiting, work running, and work failed for good. */
export const QUEUE_STATES = ['queued', 'running', 'failed'] as const;

/** The cluster-wide figures a node reports at each scrape, read from the database. */
export interface ClusterSnapshot {
  /** Nodes not stopped cleanly (a lost node stays until `ferry cluster remove`). */
  peers: Array<{ id: string; name: string; heartbeatAgeSeconds: number }>;
  lease: { token: number; holder: { id: string; name: string } | null };
  queue: { jobs: Record<(typeof QUEUE_STATES)[number], number>; oldestAgeSeconds: number };
}

/** Three small queries, run at scrape time: no extra statement on the heartbeat. */
export async function readClusterSnapshot(db: Kysely<Database>, dialect: Dialect): Promise<ClusterSnapshot> {
  const [lease, nodes, jobs] = await Promise.all([
    currentLease(db, dialect),
    db.selectFrom('nodes').select(['id', 'name', 'heartbeat_at']).where('stopped_at', 'is', null).execute(),
    db
      .selectFrom('jobs')
      .select(['status', sql<number>`count(*)`.as('n'), sql<number | null>`min(created_at)`.as('oldest')])
      .where('status', 'in', [...QUEUE_STATES])
      .groupBy('status')
      .execute(),
  ]);
  const now = Number(lease?.now ?? Date.now());
  const holderId = lease && lease.holder && Number(lease.expires_at) > now ? lease.holder : null;
  const jobCounts = Object.fromEntries(QUEUE_STATES.map((s) => [s, 0])) as ClusterSnapshot['queue']['jobs'];
  let oldest: number | null = null;
  for (const row of jobs) {
    jobCounts[row.status as keyof typeof jobCounts] = Number(row.n);
    // The age of work not done yet: failed jobs wait for an operator, not for the queue.
    if (row.status !== 'failed' && row.oldest !== null) oldest = Math.min(oldest ?? Infinity, Number(row.oldest));
  }
  return {
    peers: nodes.map((n) => ({ id: n.id, name: n.name, heartbeatAgeSeconds: Math.max(0, now - Number(n.heartbeat_at)) / 1000 })),
    lease: {
      token: Number(lease?.token ?? 0),
      holder: holderId ? { id: holderId, name: nodes.find((n) => n.id === holderId)?.name ?? holderId } : null,
    },
    queue: { jobs: jobCounts, oldestAgeSeconds: oldest === null ? 0 : Math.max(0, Date.now() - oldest) / 1000 },
  };
}
