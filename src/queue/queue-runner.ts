import type { Logger } from 'pino';
import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { backoffMs, type JobClaim, type JobRow, type RetryPolicy, type WorkQueue } from './work-queue.js';

/** A failure that no retry can fix (bad configuration, source file gone): the job fails at once. */
export class PermanentJobError extends Error {}

/** What a handler sees of the job it runs. */
export interface JobContext {
  job: JobRow;
  payload: any;
  /** The handler's last saved checkpoint (from an earlier attempt, maybe on another node). */
  checkpoint: any;
  saveCheckpoint(data: unknown): Promise<void>;
  /** Aborted when this node loses the job's lease or stops: stop writing at once. */
  signal: AbortSignal;
}

export interface JobHandler {
  kind: string;
  /** Runs one attempt and returns what `record` gets of it; throws to fail it (retried unless PermanentJobError). */
  run(ctx: JobContext): Promise<unknown>;
  /**
   * Called with every attempt's outcome (and, when it completed, what `run` returned)
   * inside the transaction that records it, e.g. to update the transfer log.
   */
  record?(trx: Transaction<Database>, job: JobRow, outcome: AttemptOutcome, result: unknown): Promise<void>;
  /** Called when an attempt starts, before `run`. */
  started?(job: JobRow): Promise<void>;
}

export type AttemptOutcome = { status: 'completed' } | { status: 'retry'; error: string; runAfter: number } | { status: 'failed'; error: string };

export interface QueueRunnerOptions extends RetryPolicy {
  concurrency: number;
  pollIntervalMs: number;
  leaseTtlMs: number;
}

/** What the node learns of each attempt's outcome. */
export interface QueueRunnerHooks {
  /** A job failed for good: called inside the transaction that records it, so what it writes commits with the failure. */
  failed?(trx: Transaction<Database>, job: JobRow, error: string): Promise<void>;
  /** After an attempt's outcome was recorded. */
  recorded?(job: JobRow, outcome: AttemptOutcome): void;
}

class LeaseLost extends Error {
  constructor() {
    super('lease on the job lost (taken over by another node)');
  }
}

/**
 * Works the queue on this node: claims jobs while it has free slots, runs each with
 * its handler, heartbeats the leases of running jobs, and records the outcome
 * (completed, retry with exponential backoff, failed) under the claim's lease token.
 */
export class QueueRunner {
  private running = new Map<number, { claim: JobClaim; abort: AbortController; done: Promise<void> }>();
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private active = false;
  private stopping = false;
  private lastHeartbeat = performance.now();
  private readonly handlers: Map<string, JobHandler>;

  constructor(
    private readonly queue: WorkQueue,
    handlers: JobHandler[],
    private readonly options: QueueRunnerOptions,
    private readonly log: Logger,
    private readonly hooks: QueueRunnerHooks = {},
  ) {
    this.handlers = new Map(handlers.map((h) => [h.kind, h]));
  }

  get busy(): number {
    return this.running.size;
  }

  /** Starts or stops claiming new work (running jobs continue until stop()). */
  setActive(on: boolean): void {
    if (on === this.active) return;
    this.active = on;
    if (on) {
      this.pollTimer = setInterval(() => this.poll(), this.options.pollIntervalMs);
      this.heartbeatTimer ??= setInterval(() => void this.heartbeat(), Math.max(200, this.options.leaseTtlMs / 3));
      this.poll();
    } else {
      clearInterval(this.pollTimer);
    }
  }

  /** Claims work now instead of at the next poll (e.g. right after enqueueing). */
  poll(): void {
    if (!this.active || this.polling) return;
    this.polling = this.fill()
      .catch((err) => this.log.error({ err: (err as Error).message }, 'queue: claiming work failed'))
      .finally(() => (this.polling = undefined));
  }

  private async fill(): Promise<void> {
    for (let round = 0; round < 100 && this.active; round++) {
      const free = this.options.concurrency - this.running.size;
      if (free <= 0) return;
      const jobs = await this.queue.claim(free);
      for (const job of jobs) this.start(job);
      if (jobs.length < free) return;
    }
  }

  private start(job: JobRow): void {
    const claim = { id: job.id, leaseToken: job.lease_token };
    const abort = new AbortController();
    const done = this.runJob(job, claim, abort.signal).finally(() => {
      this.running.delete(job.id);
      this.poll();
    });
    this.running.set(job.id, { claim, abort, done });
  }

  private async runJob(job: JobRow, claim: JobClaim, signal: AbortSignal): Promise<void> {
    const handler = this.handlers.get(job.kind);
    const log = this.log.child({ job: job.id, kind: job.kind, attempt: job.attempts });
    let outcome: AttemptOutcome;
    let result: unknown;
    try {
      if (!handler) throw new PermanentJobError(`no handler for job kind "${job.kind}"`);
      await handler.started?.(job);
      result = await handler.run({
        job,
        payload: JSON.parse(job.payload),
        checkpoint: job.checkpoint ? JSON.parse(job.checkpoint) : undefined,
        saveCheckpoint: async (data) => {
          if (!(await this.queue.checkpoint(claim, data))) throw new LeaseLost();
        },
        signal,
      });
      // A run that finished while a shutdown's abort fired still completed: record it so.
      if (signal.aborted && !this.stopping) throw new LeaseLost();
      outcome = { status: 'completed' };
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      if (this.stopping && signal.aborted) {
        // Hand the job back now instead of making another node wait for the lease to run out.
        outcome = { status: 'retry', error: 'node stopped during the attempt', runAfter: Date.now() };
      } else if (err instanceof LeaseLost || signal.aborted) {
        log.warn({ err: message }, 'queue: job attempt stopped; its lease is gone');
        return;
      } else if (err instanceof PermanentJobError || job.attempts >= job.max_attempts) {
        outcome = { status: 'failed', error: message };
      } else {
        outcome = { status: 'retry', error: message, runAfter: Date.now() + backoffMs(job.attempts, this.options) };
      }
    }
    const change =
      outcome.status === 'completed'
        ? { status: 'completed' as const, last_error: null }
        : outcome.status === 'retry'
          ? { status: 'queued' as const, run_after: outcome.runAfter, last_error: outcome.error }
          : { status: 'failed' as const, last_error: outcome.error };
    try {
      const recorded = await this.queue.whileClaimed(claim, change, async (trx) => {
        await handler?.record?.(trx, job, outcome, result);
        if (outcome.status === 'failed') await this.hooks.failed?.(trx, job, outcome.error);
      });
      if (recorded) this.hooks.recorded?.(job, outcome);
      if (!recorded) log.warn('queue: outcome not recorded; the lease was taken over');
      else if (outcome.status === 'completed') log.info('queue: job completed');
      else
        log.warn({ err: outcome.error, outcome: outcome.status }, outcome.status === 'retry' ? 'queue: job attempt failed; will retry' : 'queue: job failed');
    } catch (err) {
      // The lease runs out and another node runs the job again: at-least-once.
      log.error({ err: (err as Error).message }, 'queue: could not record the job outcome');
    }
  }

  private async heartbeat(): Promise<void> {
    const claims = [...this.running.values()].map((r) => r.claim);
    if (claims.length === 0) {
      this.lastHeartbeat = performance.now();
      return;
    }
    try {
      for (const id of await this.queue.heartbeat(claims)) this.running.get(id)?.abort.abort(new LeaseLost());
      this.lastHeartbeat = performance.now();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'queue: lease heartbeat failed');
      // Unconfirmed for most of the lease: another node may take the jobs soon. Stop writing before it can.
      if (performance.now() - this.lastHeartbeat > (this.options.leaseTtlMs * 2) / 3) {
        for (const r of this.running.values()) r.abort.abort(new LeaseLost());
      }
    }
  }

  /** Stops claiming; lets running jobs finish for `graceMs`, then aborts them (their leases expire). */
  async stop(graceMs: number): Promise<void> {
    this.setActive(false);
    this.stopping = true;
    await this.polling;
    const all = Promise.all([...this.running.values()].map((r) => r.done));
    const timer = setTimeout(() => {
      for (const r of this.running.values()) r.abort.abort(new Error('node stopping'));
    }, graceMs);
    await all;
    clearTimeout(timer);
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }
}
