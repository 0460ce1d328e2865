import type tls from 'node:tls';
import { DEAD_AFTER_MS, HEARTBEAT_MS, MAX_LINE, type ControlMessage } from './tunnel-protocol.js';

/**
 * One control connection between a node worker and an edge: JSON messages, one
 * a line. Calls `beat` every HEARTBEAT_MS (the node sends its readiness there)
 * and closes the connection when nothing has arrived for DEAD_AFTER_MS, so a
 * peer that vanished without a FIN (power loss, a firewall dropping state) is
 * noticed even while our own writes keep the socket looking busy.
 */
export class ControlChannel {
  private pending = '';
  private lastHeard = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly socket: tls.TLSSocket,
    private readonly onMessage: (message: ControlMessage) => void,
    beat?: () => void,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => this.receive(text));
    this.timer = setInterval(() => {
      if (Date.now() - this.lastHeard > DEAD_AFTER_MS) socket.destroy(new Error(`nothing heard for ${DEAD_AFTER_MS} ms`));
      else beat?.();
    }, HEARTBEAT_MS);
    socket.once('close', () => clearInterval(this.timer));
  }

  send(message: ControlMessage): void {
    if (!this.socket.destroyed) this.socket.write(JSON.stringify(message) + '\n');
  }

  get open(): boolean {
    return !this.socket.destroyed;
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(text: string): void {
    this.lastHeard = Date.now();
    this.pending += text;
    let newline: number;
    while ((newline = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, newline);
      this.pending = this.pending.slice(newline + 1);
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        return void this.socket.destroy(new Error('control message is not JSON'));
      }
      if (typeof message !== 'object' || message === null || Array.isArray(message))
        return void this.socket.destroy(new Error('control message is not an object'));
      this.onMessage(message as ControlMessage);
    }
    if (this.pending.length > MAX_LINE) this.socket.destroy(new Error(`control line longer than ${MAX_LINE} bytes`));
  }
}
