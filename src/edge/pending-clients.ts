import type net from 'node:net';

/**
 * Client connections the edge has accepted that have not spoken yet: no PROXY
 * header (when edge.proxy_protocol is on) or no first byte of SSH. Each costs a
 * socket here and, once carried, a data connection of a node tunnel and a
 * socket on the node; a real client leaves this state within a round trip.
 * Bounded in number (edge.max_pending, as OpenSSH's MaxStartups bounds
 * unauthenticated connections) and in time (edge.pending_timeout): what sends
 * nothing is closed, whatever it holds.
 */
export class PendingClients {
  private readonly timers = new Map<net.Socket, NodeJS.Timeout>();

  constructor(
    private readonly max: number,
    private readonly timeoutMs: number,
  ) {}

  get size(): number {
    return this.timers.size;
  }

  /** Takes a new connection in; false when the edge holds `max` already (the caller closes it). */
  admit(socket: net.Socket, onTimeout: () => void): boolean {
    if (this.timers.size >= this.max) return false;
    this.timers.set(
      socket,
      setTimeout(() => {
        this.timers.delete(socket);
        onTimeout();
        socket.destroy();
      }, this.timeoutMs),
    );
    socket.once('close', () => this.settle(socket));
    return true;
  }

  /**
   * Marks the connection as spoken once its next byte arrives. The socket must be
   * paused (and stays so until piped): a 'data' listener on a paused stream
   * does not start it flowing, so no byte is read before its reader is there.
   */
  settleOnFirstByte(socket: net.Socket): void {
    if (!this.timers.has(socket)) return;
    socket.pause();
    socket.once('data', () => this.settle(socket));
  }

  private settle(socket: net.Socket): void {
    clearTimeout(this.timers.get(socket));
    this.timers.delete(socket);
  }

  /** Clears the timers (the edge is stopping; its sockets are being destroyed). */
  clear(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
