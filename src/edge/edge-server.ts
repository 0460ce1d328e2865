import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { networkMatcher } from '../config/networks.js';
import { NodeTunnel } from './node-tunnel.js';
import { OncePerKey } from './once-per-key.js';
import { PendingClients } from './pending-clients.js';
import { readProxyHeader } from './proxy-protocol.js';
import { readLine } from './read-line.js';
import { CONTROL_ALPN, DATA_ALPN, KEEPALIVE_MS, LINE_TIMEOUT_MS, MAX_LINE, tunnelTlsOptions, type ClientAddress, type TunnelTls } from './tunnel-protocol.js';

/** A refusal that a client can repeat at will is logged once per this window (per address, or per reason). */
const REFUSAL_LOG_WINDOW_MS = 60_000;

export interface EdgeOptions {
  host: string;
  sftpPort: number;
  tunnelPort: number;
  healthPort: number;
  tls: TunnelTls;
  /** Clients arrive through a balancer that sends a PROXY protocol header with their own address. */
  proxyProtocol?: boolean;
  /** With proxyProtocol: the balancers' networks ("address/prefix"); a connection from anywhere else is closed. */
  proxyFrom?: string[];
  /** Client connections that have not spoken yet held at once (edge.max_pending). */
  maxPending: number;
  /** How long a new client may stay silent (edge.pending_timeout). */
  pendingTimeoutMs: number;
}

/**
 * The edge: accepts node tunnels (mutual TLS, nodes dial in) and client
 * connections, and carries each client connection over a data connection of the
 * ready node tunnel with the fewest clients. It keeps nothing on disk and never
 * sees inside the client's SSH connection.
 */
export class EdgeServer {
  private readonly tunnels = new Map<string, NodeTunnel>();
  /** Every client connection open now, so that stop() can end them. */
  private readonly clients = new Set<net.Socket>();
  private tunnelListener: tls.Server | undefined;
  private clientListener: net.Server | undefined;
  private healthListener: http.Server | undefined;
  private readonly pending: PendingClients;
  private readonly isBalancer: (address: string | undefined) => boolean;
  private readonly refusals = new OncePerKey(REFUSAL_LOG_WINDOW_MS);

  constructor(
    private readonly options: EdgeOptions,
    private readonly log: Logger,
  ) {
    this.pending = new PendingClients(options.maxPending, options.pendingTimeoutMs);
    this.isBalancer = networkMatcher(options.proxyFrom ?? []);
  }

  async start(): Promise<{ sftpPort: number; tunnelPort: number; healthPort: number }> {
    this.tunnelListener = tls.createServer(
      { ...tunnelTlsOptions(this.options.tls), requestCert: true, rejectUnauthorized: true, ALPNProtocols: [CONTROL_ALPN, DATA_ALPN] },
      (socket) => this.onTunnelConnection(socket),
    );
    this.tunnelListener.on('tlsClientError', (err, socket) => this.log.warn({ err: err.message, from: socket.remoteAddress }, 'tunnel refused'));
    this.clientListener = net.createServer((socket) => this.onClient(socket));
    this.healthListener = http.createServer((req, res) => {
      const nodes = [...this.tunnels.values()].map((t) => ({ node: t.node, ready: t.isReady, streams: t.streams }));
      const ready = nodes.some((n) => n.ready);
      res.statusCode = ready ? 200 : 503;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ready, nodes }));
    });
    const listen = (server: net.Server, port: number) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, this.options.host, () => resolve((server.address() as net.AddressInfo).port));
      });
    const tunnelPort = await listen(this.tunnelListener, this.options.tunnelPort);
    const sftpPort = await listen(this.clientListener, this.options.sftpPort);
    const healthPort = await listen(this.healthListener, this.options.healthPort);
    return { sftpPort, tunnelPort, healthPort };
  }

  private onTunnelConnection(socket: tls.TLSSocket): void {
    socket.on('error', () => {});
    socket.setKeepAlive(true, KEEPALIVE_MS);
    const node = (socket.getPeerCertificate()?.subject?.CN as string | undefined) ?? 'unknown';
    if (socket.alpnProtocol === CONTROL_ALPN) return this.attach(node, socket);
    if (socket.alpnProtocol !== DATA_ALPN) {
      this.log.warn({ node, alpn: socket.alpnProtocol, from: socket.remoteAddress }, 'tunnel connection of an unknown kind refused');
      return void socket.destroy();
    }
    readLine(socket, MAX_LINE, LINE_TIMEOUT_MS).then(
      (tunnelId) => {
        const tunnel = this.tunnels.get(tunnelId);
        // The same certificate as the control connection: one node cannot feed another's tunnel.
        if (!tunnel || tunnel.node !== node) return void socket.destroy();
        tunnel.addSpare(socket);
      },
      () => socket.destroy(),
    );
  }

  private attach(node: string, socket: tls.TLSSocket): void {
    socket.setNoDelay(true);
    const tunnel = new NodeTunnel(node, socket, this.log);
    this.tunnels.set(tunnel.id, tunnel);
    socket.once('close', () => {
      this.tunnels.delete(tunnel.id);
      tunnel.close();
      this.log.warn({ node, tunnel: tunnel.id }, 'node tunnel closed');
    });
    this.log.info({ node, tunnel: tunnel.id, from: socket.remoteAddress }, 'node tunnel attached');
  }

  /** The tunnel of a ready node with the fewest clients. */
  private pick(): NodeTunnel | undefined {
    let best: NodeTunnel | undefined;
    for (const t of this.tunnels.values()) {
      if (!t.isReady) continue;
      if (!best || t.streams < best.streams) best = t;
    }
    return best;
  }

  /** Logs a refusal a client can repeat, once per key and window, with how many were held back. */
  private refused(key: string, fields: Record<string, unknown>, msg: string): void {
    const held = this.refusals.pass(key);
    if (held !== undefined) this.log.warn({ ...fields, ...(held > 0 ? { alsoRefusedSince: held } : {}) }, msg);
  }

  private onClient(socket: net.Socket): void {
    socket.on('error', () => {});
    const from = socket.remoteAddress;
    // Behind a balancer only the balancer may connect: anyone else's PROXY header would choose the address nodes see.
    if (this.options.proxyProtocol && !this.isBalancer(from)) {
      this.refused(`not-balancer ${from}`, { from }, 'connection refused: not from a balancer in edge.proxy_from');
      return void socket.destroy();
    }
    if (
      !this.pending.admit(socket, () =>
        this.refused(`silent ${from}`, { from, timeoutMs: this.options.pendingTimeoutMs }, 'connection closed: the client sent nothing in time'),
      )
    ) {
      this.refused('full', { from, maxPending: this.options.maxPending }, 'connection refused: edge.max_pending connections have not spoken yet');
      return void socket.destroy();
    }
    this.clients.add(socket);
    socket.once('close', () => this.clients.delete(socket));
    if (this.options.proxyProtocol) this.carryProxied(socket);
    else this.carry(socket);
  }

  /** Behind a balancer: the client's own address comes from the PROXY header (a LOCAL one: the balancer's). */
  private carryProxied(socket: net.Socket): void {
    // The pending timer closes a connection whose header does not come: no timer of its own here.
    readProxyHeader(socket).then(
      (client) => this.carry(socket, client ?? undefined),
      (err: Error) => {
        if (!socket.destroyed)
          this.refused(
            `bad-header ${socket.remoteAddress}`,
            { from: socket.remoteAddress, err: err.message },
            'connection refused: no valid PROXY protocol header',
          );
        socket.destroy();
      },
    );
  }

  private carry(client: net.Socket, from: ClientAddress = peerOf(client)): void {
    if (client.destroyed) return;
    client.setNoDelay(true);
    const tunnel = this.pick();
    if (!tunnel) {
      // A clean refusal: the client sees the connection closed at once, not a hang.
      this.refused('no-node', { client: from.address }, 'no ready node: connection refused');
      client.destroy();
      return;
    }
    this.pending.settleOnFirstByte(client);
    tunnel.carry(client, from);
  }

  /** Closes the listeners, the node tunnels and every client connection (their data connections follow). */
  async stop(): Promise<void> {
    for (const t of this.tunnels.values()) t.close();
    this.tunnels.clear();
    this.pending.clear();
    for (const client of this.clients) client.destroy();
    await Promise.all(
      [this.tunnelListener, this.clientListener, this.healthListener].map((s) => new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()))),
    );
  }
}

function peerOf(socket: net.Socket): ClientAddress {
  return { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, family: socket.remoteFamily === 'IPv6' ? 'IPv6' : 'IPv4' };
}
