import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import type { Logger } from 'pino';
import type { MetricEvent } from './observability/metric-events.js';

/** Messages from a worker to the supervisor. */
export type WorkerMessage =
  | { type: 'up' }
  | { type: 'serving'; on: boolean; sftpPort: number }
  | { type: 'load'; sessions: number; transfers: number }
  /** The worker queued routing work: the supervisor claims it now rather than at its next poll. */
  | { type: 'queued' }
  /** Logins, sessions and transfer starts and ends, for the node's metrics (gathered for a moment: metric-events.ts). */
  | { type: 'metrics'; events: MetricEvent[] };

/** Messages from the supervisor to its workers. */
export type SupervisorMessage = { type: 'serve'; on: boolean } | { type: 'close-sessions'; reason: string } | { type: 'shutdown'; graceMs: number };

/** A worker that has not said it is up by then is killed and replaced. */
const WORKER_START_TIMEOUT_MS = 60_000;

/**
 * V8 flags for the workers, ahead of the node's own (which can override them).
 * A fixed old-generation growing factor of 4, the top of V8's dynamic range:
 * under a steady stream of short-lived buffers V8's dynamic factor can settle
 * on a heap limit so close to the live size that nearly every young-generation
 * collection starts a full one. Measured: 40+ full collections per GiB
 * uploaded (1.3 s more CPU per GiB) in one session before WRITEs were streamed
 * (session.ts beginWrite); 71 in one run of 200 sessions x 10 MiB after; with
 * this factor, 0 to 5, for no measurable rise in peak memory.
 */
const WORKER_V8_FLAGS = ['--heap-growing-percent=300'];

interface WorkerState {
  worker: Worker;
  pid: number;
  sessions: number;
  transfers: number;
  /** The worker confirmed it accepts connections. */
  listening: boolean;
}

/**
 * The node's worker processes (one per core by default), which share the
 * listening sockets through node:cluster. A worker that dies is replaced, and
 * its unfinished transfers are reported through onCrash.
 */
export class WorkerPool {
  readonly size: number;
  private readonly workers = new Map<number, WorkerState>();
  private serving = false;
  private stopping = false;
  private sftpPort = 0;
  private waiters: Array<() => void> = [];
  private serveAck: Promise<void> = Promise.resolve();

  constructor(
    configured: number,
    private readonly log: Logger,
    private readonly hooks: {
      onLoad(sessions: number): void;
      onCrash(pid: number): Promise<void>;
      onQueued(): void;
      onMetric(pid: number, event: MetricEvent): void;
    },
  ) {
    this.size = configured || os.availableParallelism();
  }

  /** Forks the workers and resolves when all are up (not yet serving). */
  async start(): Promise<void> {
    cluster.setupPrimary({ execArgv: [...WORKER_V8_FLAGS, ...process.execArgv] });
    await Promise.all(Array.from({ length: this.size }, () => this.fork()));
  }

  /**
   * Forks a worker; resolves once it is up, or once the worker replacing it is
   * (a worker that dies or hangs while starting must not leave the node unready).
   */
  private fork(): Promise<void> {
    return new Promise((resolve) => {
      const worker = cluster.fork();
      const pid = worker.process.pid!;
      const state: WorkerState = { worker, pid, sessions: 0, transfers: 0, listening: false };
      this.workers.set(pid, state);
      const startTimer = setTimeout(() => {
        this.log.error({ pid, timeoutMs: WORKER_START_TIMEOUT_MS }, 'worker did not start in time; killing it');
        worker.process.kill('SIGKILL');
      }, WORKER_START_TIMEOUT_MS);
      worker.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'up') {
          clearTimeout(startTimer);
          if (this.serving) this.send(state, { type: 'serve', on: true });
          resolve();
        } else if (msg.type === 'serving') {
          state.listening = msg.on;
          if (msg.on) this.sftpPort = msg.sftpPort;
          this.notify();
        } else if (msg.type === 'load') {
          state.sessions = msg.sessions;
          state.transfers = msg.transfers;
          this.hooks.onLoad(this.sessions);
        } else if (msg.type === 'queued') {
          this.hooks.onQueued();
        } else if (msg.type === 'metrics') {
          for (const event of msg.events) this.hooks.onMetric(pid, event);
        }
      });
      worker.on('exit', (code, signal) => {
        clearTimeout(startTimer);
        this.workers.delete(pid);
        this.notify();
        if (this.stopping) return resolve();
        this.log.error({ pid, code, signal }, 'worker died; starting a new one');
        void this.hooks.onCrash(pid);
        setTimeout(() => (this.stopping ? resolve() : void this.fork().then(resolve)), 1000);
      });
    });
  }

  private send(state: WorkerState, msg: SupervisorMessage): void {
    try {
      state.worker.send(msg);
    } catch {}
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  get sessions(): number {
    let n = 0;
    for (const s of this.workers.values()) n += s.sessions;
    return n;
  }

  get openTransfers(): number {
    let n = 0;
    for (const s of this.workers.values()) n += s.transfers;
    return n;
  }

  /** Whether at least one worker confirmed it accepts connections: only then is the node ready. */
  get accepting(): boolean {
    for (const s of this.workers.values()) if (s.listening) return true;
    return false;
  }

  /** The SFTP port the workers listen on (known once they serve). */
  get port(): number {
    return this.sftpPort;
  }

  /** Starts or stops accepting client sessions on every worker; established sessions go on. */
  serve(on: boolean): Promise<void> {
    if (on === this.serving) return this.serveAck;
    this.serving = on;
    this.log.info({ serving: on }, on ? 'accepting client sessions' : 'not accepting client sessions');
    const acknowledged = new Promise<void>((resolve) => {
      let pending = this.workers.size;
      if (pending === 0) return resolve();
      const onAck = () => {
        if (--pending <= 0) resolve();
        else this.waiters.push(onAck);
      };
      this.waiters.push(onAck);
    });
    for (const s of this.workers.values()) this.send(s, { type: 'serve', on });
    this.serveAck = acknowledged;
    return acknowledged;
  }

  /** Ends every session on every worker, recording open transfers aborted with `reason`. */
  async closeSessions(reason: string): Promise<void> {
    for (const s of this.workers.values()) this.send(s, { type: 'close-sessions', reason });
    const deadline = Date.now() + 10_000;
    while (this.sessions > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }

  /** Asks every worker to finish its transfers within graceMs and exit; kills stragglers. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const states = [...this.workers.values()];
    const exited = states.map((s) => new Promise<void>((resolve) => (s.worker.isDead() ? resolve() : s.worker.once('exit', () => resolve()))));
    for (const s of states) this.send(s, { type: 'shutdown', graceMs });
    const killer = setTimeout(() => states.forEach((s) => s.worker.process.kill('SIGKILL')), graceMs + 10_000);
    await Promise.all(exited);
    clearTimeout(killer);
  }
}
