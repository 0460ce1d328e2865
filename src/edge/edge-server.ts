import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { readProxyHeader } from './proxy-protocol.js';
import { CLIENT_HEADER, encodeClient, HTTP2_SETTINGS, READY_PATH, SFTP_PATH, WINDOW_BYTES, type ClientAddress } from './tunnel-protocol.js';

const READY_POLL_MS = 500;
const PROXY_HEADER_TIMEOUT_MS = 10_000;

interface Tunnel {
  id: number;
  node: string;
  session: http2.ClientHttp2Session;
  ready: boolean;
  streams: number;
}

export interface EdgeOptions {
  host: string;
  sftpPort: number;
  tunnelPort: number;
  healthPort: number;
  tls: { ca: Buffer; cert: Buffer; key: Buffer };
  /** Clients arrive through a balancer that sends a PROXY protocol header with their own address. */
  proxyProtocol?: boolean;
}

/**
 * The edge: accepts node tunnels (mutual TLS, nodes dial in) and client
 * connections, and carries each client connection as one stream through the
 * tunnel of a ready node with the fewest open streams. It keeps nothing on disk
 * and never sees inside the client's SSH connection.
 */
export class EdgeServer {
  private readonly tunnels = new Map<number, Tunnel>();
  private nextId = 1;
  private tunnelListener: tls.Server | undefined;
  private clientListener: net.Server | undefined;
  private healthListener: http.Server | undefined;
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: EdgeOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<{ sftpPort: number; tunnelPort: number; healthPort: number }> {
    const { tls: files } = this.options;
    this.tunnelListener = tls.createServer(
      { ca: files.ca, cert: files.cert, key: files.key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', ALPNProtocols: ['h2'] },
      (socket) => this.attach(socket),
    );
    this.tunnelListener.on('tlsClientError', (err, socket) => this.log.warn({ err: err.message, from: socket.remoteAddress }, 'tunnel refused'));
    this.clientListener = net.createServer((socket) => (this.options.proxyProtocol ? this.carryProxied(socket) : this.carry(socket)));
    this.healthListener = http.createServer((req, res) => {
      const ready = [...this.tunnels.values()].filter((t) => t.ready);
      res.statusCode = ready.length > 0 ? 200 : 503;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ready: ready.length > 0, nodes: [...this.tunnels.values()].map((t) => ({ node: t.node, ready: t.ready, streams: t.streams })) }));
    });
    const listen = (server: net.Server, port: number) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, this.options.host, () => resolve((server.address() as net.AddressInfo).port));
      });
    const tunnelPort = await listen(this.tunnelListener, this.options.tunnelPort);
    const sftpPort = await listen(this.clientListener, this.options.sftpPort);
    const healthPort = await listen(this.healthListener, this.options.healthPort);
    this.pollTimer = setInterval(() => this.pollReadiness(), READY_POLL_MS);
    return { sftpPort, tunnelPort, healthPort };
  }

  private attach(socket: tls.TLSSocket): void {
    const peer = socket.getPeerCertificate();
    const node = (peer?.subject?.CN as string | undefined) ?? 'unknown';
    socket.setNoDelay(true);
    const session = http2.connect('http://ferry-node', { createConnection: () => socket, settings: HTTP2_SETTINGS });
    const tunnel: Tunnel = { id: this.nextId++, node, session, ready: false, streams: 0 };
    this.tunnels.set(tunnel.id, tunnel);
    session.on('connect', () => session.setLocalWindowSize(WINDOW_BYTES));
    const drop = (why: string) => {
      if (!this.tunnels.delete(tunnel.id)) return;
      this.log.warn({ node, tunnel: tunnel.id, why }, 'node tunnel closed');
      session.destroy();
    };
    session.on('close', () => drop('closed'));
    session.on('error', (err) => drop(err.message));
    session.on('goaway', () => drop('node said goodbye'));
    this.log.info({ node, tunnel: tunnel.id, from: socket.remoteAddress }, 'node tunnel attached');
    this.askReady(tunnel);
  }

  private pollReadiness(): void {
    for (const tunnel of this.tunnels.values()) this.askReady(tunnel);
  }

  private askReady(tunnel: Tunnel): void {
    if (tunnel.session.destroyed) return;
    const request = tunnel.session.request({ ':method': 'GET', ':path': READY_PATH });
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (d: string) => (body += d));
    request.on('end', () => {
      try {
        const answer = JSON.parse(body) as { ready: boolean; node?: string };
        if (answer.ready !== tunnel.ready) this.log.info({ node: tunnel.node, ready: answer.ready }, 'node readiness');
        tunnel.ready = answer.ready === true;
      } catch {
        tunnel.ready = false;
      }
    });
    request.on('error', () => (tunnel.ready = false));
    request.setTimeout(READY_POLL_MS * 4, () => {
      tunnel.ready = false;
      request.close();
    });
    request.end();
  }

  /** The tunnel of a ready node with the fewest open streams. */
  private pick(): Tunnel | undefined {
    let best: Tunnel | undefined;
    for (const t of this.tunnels.values()) {
      if (!t.ready || t.session.destroyed) continue;
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
    const tunnel = this.pick();
    if (!tunnel) {
      // A clean refusal: the client sees the connection closed at once, not a hang.
      this.log.warn({ client: from.address }, 'no ready node: connection refused');
      client.destroy();
      return;
    }
    const stream = tunnel.session.request(
      {
        ':method': 'POST',
        ':path': SFTP_PATH,
        [CLIENT_HEADER]: encodeClient(from),
      },
      { endStream: false },
    );
    tunnel.streams++;
    let counted = true;
    const done = () => {
      if (counted) tunnel.streams--;
      counted = false;
      client.destroy();
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
    };
    stream.on('response', (headers) => {
      if (headers[':status'] !== 200) return done();
      stream.pipe(client);
      client.pipe(stream);
    });
    stream.on('close', done);
    stream.on('error', done);
    client.on('close', done);
  }

  async stop(): Promise<void> {
    clearInterval(this.pollTimer);
    for (const t of this.tunnels.values()) t.session.destroy();
    this.tunnels.clear();
    await Promise.all(
      [this.tunnelListener, this.clientListener, this.healthListener].map((s) => new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()))),
    );
  }
}

function peerOf(socket: net.Socket): ClientAddress {
  return { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, family: socket.remoteFamily === 'IPv6' ? 'IPv6' : 'IPv4' };
}
