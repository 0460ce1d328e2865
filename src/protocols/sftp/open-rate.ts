/**
 * How fast one session may open files: every open is a transfer-log row, so a
 * client opening and closing files in a tight loop would otherwise write to the
 * database as fast as it can send. A token bucket: `perSecond` opens a second
 * after a burst of as many again. An open beyond it waits its turn; one that
 * would wait longer than MAX_WAIT_MS is refused, so a client cannot queue up an
 * unbounded number of waiting requests either.
 */
const MAX_WAIT_MS = 5_000;

export class OpenRate {
  private tokens: number;
  private last = performance.now();
  private readonly burst: number;

  constructor(private readonly perSecond: number) {
    this.burst = perSecond;
    this.tokens = this.burst;
  }

  /**
   * Takes the next open's turn: 0 when it may go at once, else how many
   * milliseconds it waits; undefined when it is refused (nothing is taken then).
   */
  take(): number | undefined {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    const waitMs = ((1 - this.tokens) * 1000) / this.perSecond;
    if (waitMs > MAX_WAIT_MS) return undefined;
    this.tokens -= 1;
    return waitMs;
  }
}
