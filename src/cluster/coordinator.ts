import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { NodeState } from '../db/schema.js';
import type { ClusterEvents } from './events.js';
import type { PrimaryLease } from './lease.js';
import type { Membership } from './membership.js';

export type ClusterMode = 'active-active' | 'active-passive';

export interface NodeStatus {
  mode: ClusterMode;
  role: 'primary' | 'standby';
  ready: boolean;
  /** Why the node is not ready, for /health/ready and logs. */
  reason: string;
  state: NodeState;
  databaseReachable: boolean;
  token: number | null;
}

/** What a singleton service holds while it runs: the lease token and its fence. */
export interface Leadership {
  token: number;
  /** Add to the WHERE clause of every write: the database refuses it once the token is stale. */
  fence: ReturnType<PrimaryLease['fence']>;
}

/** Thrown inside a singleton's transaction when its fenced write was refused: roll back, the next round sees. */
export class NotPrimaryAnyMore extends Error {
  constructor() {
    super('the primary lease moved on');
  }
}

export interface SingletonService {
  name: string;
  /** How often it runs; cluster.singleton_interval when not set. */
  intervalMs?: number;
  /** One round of work, run only on the primary; every database write in it must carry the fence. */
  run(leadership: Leadership): Promise<void>;
}

export interface CoordinatorOptions {
  mode: ClusterMode;
  heartbeatIntervalMs: number;
  leaseTtlMs: number;
  singletonIntervalMs: number;
}

/**
 * The supervisor's view of the cluster, one tick per heartbeat: heartbeat, take or
 * keep the lease, run singleton services while primary, and decide readiness by
 * mode. It emits 'status' whenever role, readiness or state change, and
 * 'heartbeat' with the seconds each heartbeat statement took.
 */
export class Coordinator extends EventEmitter {
  private token: number | null = null;
  private lastRenewOk = 0;
  private databaseReachable = true;
  private databaseDownSince = 0;
  /** Until then this node takes no lease another node let run out (see databaseIsBack). */
  private othersLeaseUntil = 0;
  private state: NodeState = 'active';
  private timer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private singletonTimers: NodeJS.Timeout[] = [];
  private singletonRuns = new Set<Promise<void>>();
  private stopped = false;
  private ticking: Promise<void> | undefined;
  private last: NodeStatus | undefined;
  /** Reported by the workers: open client sessions. */
  sessions = 0;
  /** Set by `ferry cluster drain`: when in-flight transfers are cut off. */
  drainDeadline: number | null = null;

  constructor(
    private readonly membership: Membership,
    private readonly lease: PrimaryLease,
    private readonly events: ClusterEvents,
    private readonly singletons: SingletonService[],
    private readonly options: CoordinatorOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  get status(): NodeStatus {
    const primary = this.token !== null;
    let reason = '';
    if (!this.databaseReachable) reason = 'database unreachable';
    else if (this.state !== 'active') reason = `node is ${this.state}`;
    else if (this.options.mode === 'active-passive' && !primary) reason = 'standby in active-passive mode';
    return {
      mode: this.options.mode,
      role: primary ? 'primary' : 'standby',
      ready: reason === '',
      reason: reason || 'ready',
      state: this.state,
      databaseReachable: this.databaseReachable,
      token: this.token,
    };
  }

  async start(): Promise<void> {
    await this.membership.register();
    await this.events.record({
      kind: 'node-joined',
      nodeId: this.membership.nodeId,
      nodeName: this.membership.identity.name,
      detail: `mode ${this.options.mode}`,
    });
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.options.heartbeatIntervalMs);
  }

  private tick(): Promise<void> {
    if (this.ticking || this.stopped) return this.ticking ?? Promise.resolve();
    this.ticking = this.tickOnce().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async tickOnce(): Promise<void> {
    try {
      const sent = performance.now();
      const answer = await this.membership.heartbeat({ ready: this.status.ready, sessions: this.sessions }, this.state);
      this.emit('heartbeat', (performance.now() - sent) / 1000);
      if (answer.reRegistered) this.log.warn('node row was missing (removed while running); registered again');
      this.state = answer.state;
      this.drainDeadline = answer.drainDeadline;
      await this.databaseIsBack();
      await this.leadership();
    } catch (err) {
      this.databaseIsDown(err as Error);
    }
    this.publish();
  }

  private async leadership(): Promise<void> {
    if (this.token !== null) {
      const kept = this.state === 'active' && (await this.lease.renew(this.token));
      if (kept) {
        this.lastRenewOk = Date.now();
        return;
      }
      if (this.state !== 'active') await this.lease.release(this.token).catch(() => {});
      this.stepDown(this.state === 'active' ? 'lease lost' : `node is ${this.state}`);
      return;
    }
    if (this.state !== 'active') return;
    const fromOthers = Date.now() >= this.othersLeaseUntil;
    const acquired = await this.lease.tryAcquire(fromOthers);
    if ('expiresInMs' in acquired) {
      // Try again the moment the holder's lease runs out, not at the next heartbeat.
      if (fromOthers && acquired.expiresInMs < this.options.heartbeatIntervalMs) {
        clearTimeout(this.expiryTimer);
        this.expiryTimer = setTimeout(() => void this.tick(), acquired.expiresInMs + 5);
      }
      return;
    }
    this.token = acquired.token;
    this.lastRenewOk = Date.now();
    if (acquired.retaken) {
      // Its own lease, run out while it could not renew (a database restart): the primary did not change.
      this.log.warn({ token: acquired.token }, 're-took its own primary lease');
      this.startSingletons(acquired.token);
      return;
    }
    this.log.warn({ token: acquired.token, previous: acquired.previousHolder }, 'became primary');
    const holder = acquired.previousHolder;
    const previous = holder ? await this.events.nodeLabel(holder).catch(() => `node ${holder}`) : null;
    await this.events.recordFenced(
      {
        kind: 'primary-changed',
        nodeId: this.membership.nodeId,
        nodeName: this.membership.identity.name,
        detail: `token ${acquired.token}${previous ? `, after ${previous}` : ''}`,
      },
      this.lease.fence(acquired.token),
    );
    if (previous) await this.recordFailover(acquired.token, previous);
    this.startSingletons(acquired.token);
  }

  /** The lease was taken from a holder that did not hand it over: it stopped renewing (died, paused, cut off). */
  private async recordFailover(token: number, previous: string): Promise<void> {
    await this.events.recordFenced(
      {
        kind: 'failover',
        nodeId: this.membership.nodeId,
        nodeName: this.membership.identity.name,
        detail: `token ${token}: ${previous} stopped renewing the primary lease`,
      },
      this.lease.fence(token),
    );
  }

  private stepDown(why: string): void {
    if (this.token === null) return;
    this.log.warn({ token: this.token, why }, 'stepped down as primary');
    this.token = null;
    this.stopSingletons();
  }

  private startSingletons(token: number): void {
    const leadership: Leadership = { token, fence: this.lease.fence(token) };
    for (const service of this.singletons) {
      let running: Promise<void> | undefined;
      const round = () => {
        if (running || this.token !== token) return;
        running = service
          .run(leadership)
          .catch((err) => this.log.error({ err: (err as Error).message, service: service.name }, 'singleton service failed'))
          .finally(() => {
            this.singletonRuns.delete(running!);
            running = undefined;
          });
        this.singletonRuns.add(running);
      };
      round();
      this.singletonTimers.push(setInterval(round, service.intervalMs ?? this.options.singletonIntervalMs));
    }
  }

  private stopSingletons(): void {
    for (const timer of this.singletonTimers) clearInterval(timer);
    this.singletonTimers = [];
  }

  private databaseIsDown(err: Error): void {
    if (this.databaseReachable) {
      this.databaseReachable = false;
      this.databaseDownSince = Date.now();
      this.log.error({ err: err.message }, 'database unreachable');
    }
    // Without renewals the lease runs out on the database clock: stop acting as primary before it does.
    if (this.token !== null && Date.now() - this.lastRenewOk > this.options.leaseTtlMs / 2) this.stepDown('database unreachable');
  }

  private async databaseIsBack(): Promise<void> {
    if (this.databaseReachable) return;
    this.databaseReachable = true;
    // The outage kept every node from renewing, the primary too, so its lease ran out on the database clock without
    // it being gone. Leave it one lease TTL, the time it gets to renew at any moment, to come back and re-take it:
    // a database restart is no failover. A primary that is really gone is taken over a TTL later.
    this.othersLeaseUntil = Date.now() + this.options.leaseTtlMs;
    const downMs = Date.now() - this.databaseDownSince;
    this.log.warn({ downMs }, 'database recovered');
    const node = { nodeId: this.membership.nodeId, nodeName: this.membership.identity.name };
    await this.events.record({ ...node, kind: 'database-unreachable', at: this.databaseDownSince, detail: '' });
    await this.events.record({ ...node, kind: 'database-recovered', detail: `after ${Math.round(downMs / 1000)} s` });
  }

  private publish(): void {
    const now = this.status;
    const before = this.last;
    this.last = now;
    if (!before || before.ready !== now.ready || before.role !== now.role || before.state !== now.state) {
      this.log.info({ role: now.role, ready: now.ready, reason: now.reason, state: now.state }, 'node status');
      this.emit('status', now);
    }
  }

  /** Sets this node's state (drained) in the database and locally. */
  async setState(state: NodeState): Promise<void> {
    await this.membership.setState(state);
    this.state = state;
    this.publish();
  }

  /** Stops ticking and gives the lease up so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.expiryTimer);
    await this.ticking;
    this.stopSingletons();
    await Promise.all(this.singletonRuns);
    if (this.token !== null) {
      await this.lease.release(this.token).catch(() => {});
      this.token = null;
    }
    await this.membership.markStopped().catch(() => {});
    await this.events.record({ kind: 'node-stopped', nodeId: this.membership.nodeId, nodeName: this.membership.identity.name }).catch(() => {});
  }
}
