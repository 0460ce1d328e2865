import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { NodeTunnel } from './node-tunnel.js';
import { readProxyHeader } from './proxy-protocol.js';
import { readLine } from './read-line.js';
import { CONTROL_ALPN, DATA_ALPN, KEEPALIVE_MS, LINE_TIMEOUT_MS, MAX_LINE, tunnelTlsOptions, type ClientAddress, type TunnelTls } from './tunnel-protocol.js';

const PROXY_HEADER_TIMEOUT_MS = 10_000;

export interface EdgeOptions {
  host: string;
  sftpPort: number;
  tunnelPort: number;
  healthPort: number;
  tls: TunnelTls;
  /** Clients arrive through a balancer that sends a PROXY protocol header with their own address. */
  proxyProtocol?: boolean;
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

  constructor(
    private readonly options: EdgeOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<{ sftpPort: number; tunnelPort: number; healthPort: number }> {
    this.tunnelListener = tls.createServer(
      { ...tunnelTlsOptions(this.options.tls), requestCert: true, rejectUnauthorized: true, ALPNProtocols: [CONTROL_ALPN, DATA_ALPN] },
      (socket) => this.onTunnelConnection(socket),
    );
    this.tunnelListener.on('tlsClientError', (err, socket) => this.log.warn({ err: err.message, from: socket.remoteAddress }, 'tunnel refused'));
    this.clientListener = net.createServer((socket) => (this.options.proxyProtocol ? this.carryProxied(socket) : this.carry(socket)));
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

  /** Behind a balancer: the client's own address comes from the PROXY header (a LOCAL one: the balancer's). */
  private carryProxied(socket: net.Socket): void {
    socket.on('error', () => {});
    readProxyHeader(socket, PROXY_HEADER_TIMEOUT_MS).then(
      (client) => this.carry(socket, client ?? undefined),
      (err: Error) => {
        this.log.warn({ from: socket.remoteAddress, err: err.message }, 'connection refused: no valid PROXY protocol header');
        socket.destroy();
      },
    );
  }

  private carry(client: net.Socket, from: ClientAddress = peerOf(client)): void {
    client.setNoDelay(true);
    client.on('error', () => {});
    this.clients.add(client);
    client.once('close', () => this.clients.delete(client));
    const tunnel = this.pick();
    if (!tunnel) {
      // A clean refusal: the client sees the connection closed at once, not a hang.
      this.log.warn({ client: from.address }, 'no ready node: connection refused');
      client.destroy();
      return;
    }
    tunnel.carry(client, from);
  }

  /** Closes the listeners, the node tunnels and every client connection (their data connections follow). */
  async stop(): Promise<void> {
    for (const t of this.tunnels.values()) t.close();
    this.tunnels.clear();
    for (const client of this.clients) client.destroy();
    await Promise.all(
      [this.tunnelListener, this.clientListener, this.healthListener].map((s) => new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()))),
    );
  }
}

function peerOf(socket: net.Socket): ClientAddress {
  return { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, family: socket.remoteFamily === 'IPv6' ? 'IPv6' : 'IPv4' };
}
