/**
 * Bounds the password hashing one client address can make a worker do. scrypt is
 * made expensive on purpose (about 50 ms of CPU and 32 MiB each) and runs on
 * libuv's small thread pool: twenty connections from one attacker each hashing
 * at once fill that pool and queue everybody else's logins behind them. With
 * this, an address has at most `perAddress` hashes in flight per worker; its
 * further attempts wait their turn (at most `waiting` of them), and beyond that
 * are refused without any hashing.
 */
export class HashSlots {
  private readonly byAddress = new Map<string, { running: number; queue: Array<() => void> }>();

  constructor(
    private readonly perAddress: number,
    private readonly waiting: number,
  ) {}

  /** Runs `work` when the address has a free slot; 'busy' when too many attempts of the address wait already. */
  async run<T>(address: string, work: () => Promise<T>): Promise<T | 'busy'> {
    let entry = this.byAddress.get(address);
    if (!entry) this.byAddress.set(address, (entry = { running: 0, queue: [] }));
    if (entry.running >= this.perAddress) {
      if (entry.queue.length >= this.waiting) return 'busy';
      await new Promise<void>((resolve) => entry!.queue.push(resolve));
    } else {
      entry.running++;
    }
    try {
      return await work();
    } finally {
      // The slot passes straight to the next waiter, or is freed.
      const next = entry.queue.shift();
      if (next) next();
      else if (--entry.running === 0) this.byAddress.delete(address);
    }
  }

  /** Hashes in flight now, all addresses together (for tests and metrics). */
  get running(): number {
    let n = 0;
    for (const e of this.byAddress.values()) n += e.running;
    return n;
  }
}
