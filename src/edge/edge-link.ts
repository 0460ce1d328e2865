import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { ControlChannel } from './control-channel.js';
import { readLine } from './read-line.js';
import {
  CONTROL_ALPN,
  DATA_ALPN,
  decodeClient,
  KEEPALIVE_MS,
  MAX_LINE,
  SPARE_DATA,
  tunnelTlsOptions,
  type ClientAddress,
  type TunnelTls,
} from './tunnel-protocol.js';

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;
/** More data connections than this being opened at once for one edge is a burst we let TCP's accept queue absorb. */
const MAX_DIALING = 64;

export interface EdgeLinkOptions {
  edge: string;
  tls: TunnelTls;
  /** Whether this process takes sessions now (told to the edge every heartbeat). */
  ready(): boolean;
  /** Takes a client connection carried from the edge; its remoteAddress is the client's. */
  accept(socket: net.Socket): void;
}

/**
 * A node worker's tunnel to one edge: a control connection, redialled with
 * backoff while it is down, and SPARE_DATA idle data connections kept ready for
 * the edge to put clients on (more when the edge asks).
 */
export class EdgeLink {
  private stopped = false;
  private control: ControlChannel | undefined;
  private tunnelId: string | undefined;
  private readonly spares = new Set<tls.TLSSocket>();
  private dialing = 0;
  private readonly host: string;
  private readonly port: number;

  constructor(
    private readonly options: EdgeLinkOptions,
    private readonly log: Logger,
  ) {
    const at = options.edge.lastIndexOf(':');
    this.host = options.edge.slice(0, at).replace(/^\[(.*)\]$/, '$1');
    this.port = Number(options.edge.slice(at + 1));
  }

  start(): void {
    this.dialControl(BACKOFF_MIN_MS);
  }

  stop(): void {
    this.stopped = true;
    this.control?.close();
    for (const spare of this.spares) spare.destroy();
  }

  private connect(alpn: string): tls.TLSSocket {
    const socket = tls.connect({
      host: this.host,
      port: this.port,
      servername: net.isIP(this.host) ? undefined : this.host,
      ...tunnelTlsOptions(this.options.tls),
      ALPNProtocols: [alpn],
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_MS);
    return socket;
  }

  private dialControl(backoffMs: number): void {
    if (this.stopped) return;
    const { edge } = this.options;
    const socket = this.connect(CONTROL_ALPN);
    let attached = false;
    socket.once('secureConnect', () => {
      attached = true;
      this.log.info({ edge }, 'tunnel to edge up');
      const control = new ControlChannel(
        socket,
        (message) => {
          if (typeof message.tunnel === 'string' && this.tunnelId === undefined) {
            this.tunnelId = message.tunnel;
            this.fillSpares();
          }
          if (typeof message.open === 'number') for (let i = 0; i < Math.min(message.open, MAX_DIALING); i++) this.dialData();
        },
        () => control.send({ ready: this.options.ready() }),
      );
      this.control = control;
      control.send({ ready: this.options.ready() });
    });
    socket.on('error', (err) => {
      if (!attached) this.log.warn({ edge, err: err.message, retryInMs: backoffMs }, 'cannot reach edge');
    });
    socket.once('close', () => {
      this.control = undefined;
      this.tunnelId = undefined;
      // Idle data connections belong to the old tunnel; clients already carried go on.
      for (const spare of this.spares) spare.destroy();
      if (this.stopped) return;
      if (attached) this.log.warn({ edge }, 'tunnel to edge lost; reconnecting');
      const next = attached ? BACKOFF_MIN_MS : Math.min(BACKOFF_MAX_MS, backoffMs * 2);
      setTimeout(() => this.dialControl(next), attached ? BACKOFF_MIN_MS : backoffMs).unref();
    });
  }

  private fillSpares(): void {
    // dialData refuses while no tunnel is up (or too many dials are pending): stop then, or this would spin forever.
    while (this.spares.size + this.dialing < SPARE_DATA && this.dialData());
  }

  /** Dials one data connection for the current tunnel; false when it cannot now. */
  private dialData(): boolean {
    const tunnelId = this.tunnelId;
    if (this.stopped || !tunnelId || this.dialing >= MAX_DIALING) return false;
    this.dialing++;
    const socket = this.connect(DATA_ALPN);
    let connected = false;
    socket.on('error', () => {});
    socket.once('secureConnect', () => {
      connected = true;
      this.dialing--;
      if (this.tunnelId !== tunnelId) return void socket.destroy();
      socket.write(tunnelId + '\n');
      this.spares.add(socket);
      readLine(socket, MAX_LINE).then(
        (line) => this.onClient(socket, line),
        () => socket.destroy(),
      );
    });
    socket.once('close', () => {
      if (!connected) this.dialing--;
      const wasIdle = this.spares.delete(socket);
      if ((connected && !wasIdle) || this.tunnelId !== tunnelId) return;
      // A failed dial or an idle data connection gone (a firewall, the edge shedding it): replace it, not in a hot loop.
      setTimeout(() => this.fillSpares(), BACKOFF_MIN_MS).unref();
    });
    return true;
  }

  private onClient(socket: tls.TLSSocket, line: string): void {
    this.spares.delete(socket);
    this.fillSpares();
    const client = decodeClient(line);
    if (!client || !this.options.ready()) return void socket.destroy();
    this.options.accept(withClientAddress(socket, client));
    socket.resume();
  }
}

/** ssh2 reads the client's address from these, as from a TCP socket of its own. */
function withClientAddress(socket: tls.TLSSocket, client: ClientAddress): net.Socket {
  return Object.defineProperties(socket, {
    remoteAddress: { value: client.address },
    remotePort: { value: client.port },
    remoteFamily: { value: client.family },
  });
}
