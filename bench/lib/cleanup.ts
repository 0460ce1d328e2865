/**
 * Teardown that happens whatever way the benchmark ends: normal end, an error, a
 * signal, or the overall time limit. Steps run once, last added first, each
 * bounded in time. Last-resort actions (synchronous kills) run at once when the
 * run is aborted, and again on process exit.
 */

export interface Step {
  name: string;
  run: () => Promise<unknown> | unknown;
  timeoutMs: number;
}

/** Runs teardown steps last added first, each given at most its timeout; a failing step does not stop the rest. */
export async function runStepsInReverse(steps: readonly Step[]): Promise<void> {
  for (const step of [...steps].reverse()) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        console.error(`cleanup: "${step.name}" took longer than ${step.timeoutMs} ms; going on`);
        resolve();
      }, step.timeoutMs);
    });
    try {
      await Promise.race([Promise.resolve().then(step.run), timeout]);
    } catch (err) {
      console.error(`cleanup: "${step.name}" failed: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

export class Cleanup {
  private readonly steps: Step[] = [];
  private readonly lastResort: Array<() => void> = [];
  private running: Promise<void> | undefined;
  private readonly aborter = new AbortController();

  /** Aborted on a signal or at the time limit: start no further work. */
  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  /** An asynchronous teardown step, given at most timeoutMs. */
  add(name: string, run: () => Promise<void> | void, timeoutMs = 20_000): void {
    this.steps.push({ name, run, timeoutMs });
  }

  /** A synchronous action for an abort and for process exit, e.g. SIGKILL of what is still running. */
  addLastResort(action: () => void): void {
    this.lastResort.push(action);
  }

  runAll(): Promise<void> {
    this.running ??= runStepsInReverse(this.steps);
    return this.running;
  }

  /**
   * Signals and the time limit end the run through the same teardown; exit runs the
   * last-resort actions in case the asynchronous teardown never got to run.
   */
  install(maxMinutes: number): void {
    const runLastResort = () => {
      for (const action of this.lastResort) {
        try {
          action();
        } catch {}
      }
    };
    const abort = (why: string, code: number) => {
      console.error(`\n${why}: cleaning up`);
      this.aborter.abort(new Error(why));
      runLastResort();
      void this.runAll().finally(() => process.exit(code));
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => abort(`received ${signal}`, 130));
    }
    setTimeout(() => abort(`time limit of ${maxMinutes} minutes reached`, 3), maxMinutes * 60_000).unref();
    process.once('uncaughtException', (err) => abort(`unexpected error: ${err.stack ?? err}`, 1));
    process.once('unhandledRejection', (err) => abort(`unexpected error: ${(err as Error)?.stack ?? err}`, 1));
    process.on('exit', runLastResort);
  }
}
