import type { Kysely, Transaction } from 'kysely';
import type { Database, RouteEvent } from '../db/schema.js';
import { enqueueJob } from '../queue/work-queue.js';
import { recordQueuedDelivery } from '../transfers/delivery-rows.js';
import { homeOfAccount } from './account-home.js';
import { pinVersion } from './spool.js';
import { matchingRoutes, routeSteps, type DeliveryStep, type RouteRow } from './routes.js';

export const DELIVER_JOB = 'deliver';

/** A file that appeared in an account's home: uploaded, or found by a folder monitor. */
export interface FileEvent {
  event: RouteEvent;
  account: string;
  /** Path inside the home, with a leading '/'. */
  path: string;
  size: number;
  sha256: string | null;
  /** Makes the work unique (a monitor's file version); a second event with the same key enqueues nothing. */
  dedupeKey?: string;
  /** Where the file is on disk; looked up from the account's home when not given. */
  realPath?: string;
}

export interface EnqueueOptions {
  maxAttempts: number;
  storageDir: string;
}

/** What a delivery job carries: a snapshot of the route, so editing a route never changes queued work. */
export interface DeliverPayload {
  /** What asked for it: route:NAME or schedule:NAME. */
  origin: string;
  account: string;
  path: string;
  size: number;
  sha256: string | null;
  steps: DeliveryStep[];
  rename: string | null;
  after: RouteRow['after_delivery'];
  /** The moment {date} and {time} of a rename pattern stand for (a schedule's slot); else when it was queued. */
  nameTime?: number;
}

export function describeSteps(steps: DeliveryStep[]): string {
  return steps.map((s) => (s.type === 'push' ? `partner:${s.partner}` : `account:${s.account}${s.dir === '/' ? '' : s.dir}`)).join(', ');
}

/**
 * Queues one delivery per matching route, inside the caller's transaction (the one
 * that records the event), each with its own row in the transfer log.
 */
export async function enqueueDeliveries(trx: Kysely<Database> | Transaction<Database>, file: FileEvent, options: EnqueueOptions): Promise<number> {
  let queued = 0;
  let realPath = file.realPath;
  for (const route of await matchingRoutes(trx, file.account, file.event, file.path)) {
    realPath ??= (await homeOfAccount(trx, options.storageDir, file.account)).resolve(file.path).real;
    const payload: DeliverPayload = {
      origin: `route:${route.name}`,
      account: file.account,
      path: file.path,
      size: file.size,
      sha256: file.sha256,
      steps: routeSteps(route),
      rename: route.rename,
      after: route.after_delivery,
    };
    const dedupeKey = file.dedupeKey ? `${file.dedupeKey}:route:${route.id}` : undefined;
    if ((await enqueueDelivery(trx, payload, { ...options, dedupeKey, realPath })) !== undefined) queued++;
  }
  return queued;
}

/**
 * Queues one delivery with its row in the transfer log and pins the file version
 * it sends (see spool.ts); undefined when the dedupe key exists already.
 */
export async function enqueueDelivery(
  trx: Kysely<Database> | Transaction<Database>,
  payload: DeliverPayload,
  options: EnqueueOptions & { dedupeKey?: string; realPath: string },
): Promise<number | undefined> {
  const jobId = await enqueueJob(trx, { kind: DELIVER_JOB, payload, maxAttempts: options.maxAttempts, dedupeKey: options.dedupeKey });
  if (jobId === undefined) return undefined;
  pinVersion(options.storageDir, jobId, options.realPath);
  const transferId = await recordQueuedDelivery(trx, {
    jobId,
    origin: payload.origin,
    account: payload.account,
    path: payload.path,
    protocol: payload.steps.map((s) => (s.type === 'copy' ? 'local' : 'partner')).join('+'),
    destination: describeSteps(payload.steps),
  });
  await trx.updateTable('jobs').set({ transfer_id: transferId }).where('id', '=', jobId).execute();
  return jobId;
}
