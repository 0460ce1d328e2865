/** Keys remembered at most; past this the memory starts over (a flood of addresses costs a few more lines, never memory). */
const MAX_KEYS = 1024;

/**
 * Lets a log line through once per key (a client address, a reason) per window,
 * and says how many were held back since: what a client can make the edge do
 * over and over (connect from a spoofing host, fill the pending slots) costs a
 * log line per window, not one per connection.
 */
export class OncePerKey {
  private readonly seen = new Map<string, { until: number; held: number }>();

  constructor(private readonly windowMs: number) {}

  /** The number of repeats held back since the last time through, or undefined to hold this one back. */
  pass(key: string, now = Date.now()): number | undefined {
    const entry = this.seen.get(key);
    if (entry && now < entry.until) {
      entry.held++;
      return undefined;
    }
    if (!entry && this.seen.size >= MAX_KEYS) this.seen.clear();
    this.seen.set(key, { until: now + this.windowMs, held: 0 });
    return entry?.held ?? 0;
  }
}
