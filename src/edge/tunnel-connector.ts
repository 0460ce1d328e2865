import type net from 'node:net';
import type { Logger } from 'pino';
import { EdgeLink } from './edge-link.js';
import type { TunnelTls } from './tunnel-protocol.js';

export interface TunnelConnectorOptions {
  edges: string[];
  tls: TunnelTls;
  /** Whether this process takes sessions now (the edge sends none otherwise). */
  ready(): boolean;
  /** Hands a client connection carried by a tunnel to the SSH service; its remoteAddress is the client's. */
  accept(socket: net.Socket): void;
}

/**
 * The node's side of the edge tunnels: one link per edge, each dialled out from
 * here (no inbound port into the LAN) and redialled when lost.
 */
export class TunnelConnector {
  private readonly links: EdgeLink[];

  constructor(options: TunnelConnectorOptions, log: Logger) {
    this.links = options.edges.map((edge) => new EdgeLink({ edge, tls: options.tls, ready: options.ready, accept: options.accept }, log));
  }

  start(): void {
    for (const link of this.links) link.start();
  }

  /** Stops dialling and closes the tunnels; sessions already carried go on until the SSH service ends them. */
  stop(): void {
    for (const link of this.links) link.stop();
  }
}
