import type net from 'node:net';
import type { MaxStartups } from '../../config/max-startups.js';

/**
 * Connections of one worker that are not logged in yet, each with its login
 * timer running from TCP accept (not from the client's identification line,
 * which a silent client never sends). New ones are refused as OpenSSH's
 * MaxStartups does: from `start` pending on with probability rate/100, rising
 * linearly to every one at `full`. Random early drop keeps some room for real
 * clients while a flood of silent connections lasts; the timer ends the flood's.
 */
export class PendingConnections {
  private readonly timers = new Map<net.Socket, NodeJS.Timeout>();

  constructor(
    private readonly limits: MaxStartups,
    private readonly timeoutMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  get count(): number {
    return this.timers.size;
  }

  /**
   * Takes a new connection as pending, or refuses it (returns false; the caller
   * closes it). `onTimeout` runs if it is still pending after the login timeout.
   */
  admit(socket: net.Socket, onTimeout: () => void): boolean {
    if (this.refuseNext()) return false;
    const timer = setTimeout(() => {
      this.timers.delete(socket);
      onTimeout();
    }, this.timeoutMs);
    this.timers.set(socket, timer);
    socket.once('close', () => this.settled(socket));
    return true;
  }

  /** The connection logged in or closed: it is no longer pending. */
  settled(socket: net.Socket): void {
    const timer = this.timers.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(socket);
  }

  private refuseNext(): boolean {
    const { start, rate, full } = this.limits;
    const n = this.timers.size;
    if (n >= full) return true;
    if (n < start) return false;
    const p = rate / 100 + ((100 - rate) / 100) * ((n - start) / (full - start));
    return this.random() < p;
  }
}
