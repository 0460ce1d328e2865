import crypto from 'node:crypto';
import type net from 'node:net';
import type tls from 'node:tls';
import type { Logger } from 'pino';
import { ControlChannel } from './control-channel.js';
import { encodeClient, LINE_TIMEOUT_MS, READY_STALE_MS, type ClientAddress, type ControlMessage } from './tunnel-protocol.js';

/**
 * The edge's side of one node worker's tunnel: its control connection (the
 * worker's readiness, requests for more data connections) and its idle data
 * connections, each of which carries one client once taken.
 */
export class NodeTunnel {
  readonly id = crypto.randomBytes(16).toString('hex');
  /** Clients carried now or waiting for a data connection. */
  streams = 0;
  private ready = false;
  private heardAt = 0;
  private readonly control: ControlChannel;
  private readonly spares = new Set<tls.TLSSocket>();
  private readonly waiting: Array<{ client: net.Socket; from: ClientAddress; giveUp: NodeJS.Timeout }> = [];

  constructor(
    readonly node: string,
    socket: tls.TLSSocket,
    private readonly log: Logger,
  ) {
    this.control = new ControlChannel(socket, (message) => this.onMessage(message));
    this.control.send({ tunnel: this.id });
  }

  /** Whether the node said it takes sessions, lately enough to still believe it. */
  get isReady(): boolean {
    return this.ready && this.control.open && Date.now() - this.heardAt < READY_STALE_MS;
  }

  private onMessage(message: ControlMessage): void {
    if (typeof message.ready !== 'boolean') return;
    if (message.ready !== this.ready) this.log.info({ node: this.node, ready: message.ready }, 'node readiness');
    this.ready = message.ready;
    this.heardAt = Date.now();
    this.control.send({});
  }

  /** An idle data connection the node opened for this tunnel. */
  addSpare(data: tls.TLSSocket): void {
    if (!this.control.open) return void data.destroy();
    const next = this.waiting.shift();
    if (next) {
      clearTimeout(next.giveUp);
      return this.bridge(next.client, data, next.from);
    }
    this.spares.add(data);
    data.once('close', () => this.spares.delete(data));
  }

  /** Carries a client over one of the idle data connections, or the next one the node opens. */
  carry(client: net.Socket, from: ClientAddress): void {
    this.streams++;
    for (const spare of this.spares) {
      this.spares.delete(spare);
      // One the node closed a moment ago may not have emitted 'close' yet.
      if (!spare.destroyed && spare.writable) return this.bridge(client, spare, from);
    }
    const entry = { client, from, giveUp: setTimeout(() => client.destroy(), LINE_TIMEOUT_MS) };
    this.waiting.push(entry);
    this.control.send({ open: 1 });
    this.log.debug({ node: this.node, waiting: this.waiting.length }, 'no idle data connection: asked the node for one');
    client.once('close', () => {
      clearTimeout(entry.giveUp);
      const at = this.waiting.indexOf(entry);
      if (at < 0) return;
      this.waiting.splice(at, 1);
      this.streams--;
    });
  }

  private bridge(client: net.Socket, data: tls.TLSSocket, from: ClientAddress): void {
    if (client.destroyed) {
      this.streams--;
      return this.addSpare(data);
    }
    data.setNoDelay(true);
    data.write(encodeClient(from) + '\n');
    client.pipe(data);
    data.pipe(client);
    let counted = true;
    const done = () => {
      if (counted) this.streams--;
      counted = false;
      client.destroy();
      data.destroy();
    };
    client.once('close', done);
    data.once('close', done);
  }

  /** Closes the control connection and the idle data connections; clients being carried go on. */
  close(): void {
    this.control.close();
    for (const spare of this.spares) spare.destroy();
    for (const { client } of this.waiting.splice(0)) client.destroy();
  }
}
