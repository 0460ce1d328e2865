import { runStepsInReverse, type Step } from '../lib/cleanup.js';

/**
 * Teardown for the cluster benchmarks: steps run once, last added first, each
 * bounded in time, whatever way the run ends (normal end, an error, SIGINT/SIGTERM,
 * or the overall time limit). Synchronous last-resort actions (SIGKILL of process
 * groups) also run on process exit, so nothing is left behind.
 */
export class Teardown {
  private readonly steps: Step[] = [];
  private readonly lastResort = new Map<number, () => void>();
  private nextId = 0;
  private running: Promise<void> | undefined;
  private readonly aborter = new AbortController();
  private limitTimer: NodeJS.Timeout | undefined;

  constructor(limitMs: number) {
    const onSignal = (signal: NodeJS.Signals) => {
      console.error(`\n${signal}: stopping and cleaning up`);
      this.abort(new Error(`interrupted by ${signal}`));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.once('exit', () => this.runLastResort());
    this.limitTimer = setTimeout(() => {
      console.error(`\noverall time limit of ${Math.round(limitMs / 1000)} s reached: stopping and cleaning up`);
      this.abort(new Error('overall time limit reached'));
    }, limitMs);
    this.limitTimer.unref();
  }

  /** Aborted on a signal or at the time limit: every wait checks it. */
  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  /** Throws if the run was aborted. */
  check(): void {
    if (this.aborter.signal.aborted) throw this.aborter.signal.reason;
  }

  add(name: string, run: () => Promise<unknown> | unknown, timeoutMs = 20_000): void {
    this.steps.push({ name, run, timeoutMs });
  }

  /** A synchronous action for abort and exit; returns a function that forgets it. */
  addLastResort(action: () => void): () => void {
    const id = this.nextId++;
    this.lastResort.set(id, action);
    return () => this.lastResort.delete(id);
  }

  private abort(reason: Error): void {
    if (this.aborter.signal.aborted) return;
    this.aborter.abort(reason);
    this.runLastResort();
    // Leave the rest to the main flow's finally; force the exit if it hangs.
    setTimeout(() => {
      console.error('cleanup did not finish in time; exiting');
      process.exit(2);
    }, 60_000).unref();
  }

  private runLastResort(): void {
    for (const action of this.lastResort.values()) {
      try {
        action();
      } catch {}
    }
  }

  runAll(): Promise<void> {
    this.running ??= (async () => {
      clearTimeout(this.limitTimer);
      await runStepsInReverse(this.steps);
      this.runLastResort();
    })();
    return this.running;
  }
}

/** Sleeps, but wakes (rejecting) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Rejects after ms with a message naming what was awaited. */
export function withTimeout<T>(what: string, promise: Promise<T>, ms: number, signal?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    if (signal) {
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  return Promise.race([promise, limit]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  });
}
