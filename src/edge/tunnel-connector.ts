import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { CLIENT_HEADER, decodeClient, HTTP2_SETTINGS, READY_PATH, SFTP_PATH, WINDOW_BYTES } from './tunnel-protocol.js';

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;

export interface TunnelConnectorOptions {
  edges: string[];
  tls: { ca: Buffer; cert: Buffer; key: Buffer };
  /** Whether this process takes sessions now (the edge asks before sending any). */
  ready(): boolean;
  /** Hands a client connection carried by the tunnel to the SSH service. */
  accept(socket: Duplex): void;
}

/**
 * The node's side of the edge tunnels: dials out to every edge (no inbound port
 * into the LAN), reconnects with backoff, and serves HTTP/2 on its outbound
 * connection. Each stream the edge opens becomes one client connection, with the
 * client's real address taken from the stream's request.
 */
export class TunnelConnector {
  private stopped = false;
  private readonly sockets = new Set<tls.TLSSocket>();
  private readonly server: http2.Http2Server;

  constructor(
    private readonly options: TunnelConnectorOptions,
    private readonly log: Logger,
  ) {
    this.server = http2.createServer({ settings: HTTP2_SETTINGS });
    this.server.on('session', (session) => session.setLocalWindowSize(WINDOW_BYTES));
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
  }

  start(): void {
    for (const edge of this.options.edges) this.dial(edge, BACKOFF_MIN_MS);
  }

  private dial(edge: string, backoffMs: number): void {
    if (this.stopped) return;
    const at = edge.lastIndexOf(':');
    const host = edge.slice(0, at).replace(/^\[(.*)\]$/, '$1');
    const port = Number(edge.slice(at + 1));
    const socket = tls.connect({ host, port, servername: host, ...this.options.tls, minVersion: 'TLSv1.3', ALPNProtocols: ['h2'] });
    let attached = false;
    socket.setNoDelay(true);
    socket.once('secureConnect', () => {
      attached = true;
      this.sockets.add(socket);
      this.log.info({ edge }, 'tunnel to edge up');
      // HTTP/2 server role on an outbound connection: the edge opens the streams.
      this.server.emit('connection', socket);
    });
    socket.on('error', (err) => {
      if (!attached) this.log.warn({ edge, err: err.message, retryInMs: backoffMs }, 'cannot reach edge');
    });
    socket.once('close', () => {
      this.sockets.delete(socket);
      if (this.stopped) return;
      if (attached) this.log.warn({ edge }, 'tunnel to edge lost; reconnecting');
      const next = attached ? BACKOFF_MIN_MS : Math.min(BACKOFF_MAX_MS, backoffMs * 2);
      setTimeout(() => this.dial(edge, next), attached ? BACKOFF_MIN_MS : backoffMs).unref();
    });
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => {});
    if (headers[':path'] === READY_PATH) {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ ready: this.options.ready() }));
      return;
    }
    const client = decodeClient(headers[CLIENT_HEADER] as string | undefined);
    if (headers[':path'] !== SFTP_PATH || !client) {
      stream.respond({ ':status': 400 });
      stream.end();
      return;
    }
    if (!this.options.ready()) {
      stream.respond({ ':status': 503 });
      stream.end();
      return;
    }
    stream.respond({ ':status': 200 });
    // ssh2 reads the client's address from these, as from a TCP socket.
    const socket = Object.assign(stream as unknown as Duplex, {
      remoteAddress: client.address,
      remotePort: client.port,
      remoteFamily: client.family,
      setNoDelay: () => undefined,
      setKeepAlive: () => undefined,
    });
    this.options.accept(socket);
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.sockets) s.destroy();
  }
}
