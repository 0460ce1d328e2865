/**
 * Polls `probe` until it returns something truthy (which is returned), or fails after timeoutMs.
 * A probe that is itself costly (one that runs the `ferry` CLI takes a third of a second
 * of CPU) waits twice its own duration before the next try, so that waiting spends at
 * most a third of its time probing and leaves the CPU to what it waits for.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const started = Date.now();
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, Math.max(everyMs, 2 * (Date.now() - started))));
  }
}
