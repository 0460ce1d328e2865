import fs from 'node:fs';
import type tls from 'node:tls';

/**
 * The tunnels between a node and an edge. The node dials out to the edge (mutual
 * TLS 1.3; no inbound port into the LAN) and opens two kinds of connection, told
 * apart by ALPN:
 *
 * - control (`ferry-control/1`), one per node worker and edge: newline-delimited
 *   JSON. The edge names the tunnel first (`{"tunnel":"<id>"}`); then the node
 *   says every HEARTBEAT_MS whether it takes sessions (`{"ready":true}`) and the
 *   edge answers each with `{}`. The edge asks for more data connections with
 *   `{"open":N}`. A side that hears nothing for DEAD_AFTER_MS closes it.
 * - data (`ferry-data/1`), one per client connection: the node keeps SPARE_DATA
 *   of them open and idle, each introduced by the line `<tunnel id>\n`. For a
 *   client the edge takes one, sends the client's address as the line
 *   `IPv4|IPv6 <address> <port>\n` (as PROXY protocol v2 would), and from then
 *   on the connection carries the client's bytes both ways, raw and end to end:
 *   the edge never decrypts SSH. Each client has its own TCP connection, so its
 *   flow control is TCP's own and a slow client stalls nobody else.
 *
 * An earlier version carried clients as HTTP/2 streams over one connection; its
 * framing and flow-control bookkeeping cost the edge about 1.4 times the CPU per
 * byte relayed (bench/edge.ts), for nothing TCP does not already do.
 */
export const CONTROL_ALPN = 'ferry-control/1';
export const DATA_ALPN = 'ferry-data/1';

export const HEARTBEAT_MS = 500;
/** A node not heard from for this long takes no new sessions; a silent control connection is closed after DEAD_AFTER_MS. */
export const READY_STALE_MS = 4 * HEARTBEAT_MS;
export const DEAD_AFTER_MS = 10_000;
/** Idle data connections a node worker keeps at each edge, so a client gets one without waiting for a handshake. */
export const SPARE_DATA = 2;
/** TCP keepalive on idle connections, so a firewall between node and edge neither forgets nor silently drops them. */
export const KEEPALIVE_MS = 30_000;
/** The longest line either side accepts; a client line is at most ~60 bytes, a control message a few dozen. */
export const MAX_LINE = 256;
/** How long a first line may take to arrive, and a client may wait for a data connection. */
export const LINE_TIMEOUT_MS = 10_000;

/**
 * TLS for both kinds of connection. AES-128-GCM first (OpenSSL's default puts
 * AES-256 first): the SSH inside is encrypted already, and 10 AES rounds a block
 * instead of 14 is CPU the edge and the node spend on every byte.
 */
export function tunnelTlsOptions(files: TunnelTls): tls.SecureContextOptions & { minVersion: tls.SecureVersion } {
  return {
    ...files,
    minVersion: 'TLSv1.3',
    ciphers: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
  };
}

export interface TunnelTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface ControlMessage {
  tunnel?: string;
  ready?: boolean;
  open?: number;
}

export interface ClientAddress {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

export function encodeClient(c: ClientAddress): string {
  return `${c.family} ${c.address} ${c.port}`;
}

export function decodeClient(value: string | undefined): ClientAddress | undefined {
  const [family, address, port, extra] = (value ?? '').split(' ');
  if ((family !== 'IPv4' && family !== 'IPv6') || !address || !/^\d{1,5}$/.test(port ?? '') || extra !== undefined) return undefined;
  return { family, address, port: Number(port) };
}

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

/** Reads the mutual-TLS files a tunnel needs; a clear error names what is missing. */
export function readTls(tls: TlsFiles, who: string): TunnelTls {
  const missing = (['ca', 'cert', 'key'] as const).filter((k) => !tls[k]);
  if (missing.length > 0) {
    throw new Error(
      `${who} needs tls.${missing.join(', tls.')} (FERRY_TLS_${missing.map((m) => m.toUpperCase()).join(', FERRY_TLS_')}): make them with ferry pki`,
    );
  }
  const read = (k: 'ca' | 'cert' | 'key') => {
    try {
      return fs.readFileSync(tls[k]!);
    } catch (err) {
      throw new Error(`cannot read tls.${k} ${tls[k]}: ${(err as Error).message}`, { cause: err });
    }
  };
  return { ca: read('ca'), cert: read('cert'), key: read('key') };
}
