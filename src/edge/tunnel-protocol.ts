import fs from 'node:fs';

/**
 * The tunnel between a node and an edge: the node dials out (mutual TLS) and
 * serves HTTP/2 on that connection; the edge is the HTTP/2 client. Each client
 * connection is one stream (POST /sftp) whose request carries the client's
 * address, as PROXY protocol v2 would; the node answers 200 and the stream then
 * carries the client's bytes both ways, end to end (the edge never decrypts SSH).
 * GET /ready tells the edge whether the node takes sessions now.
 */
export const SFTP_PATH = '/sftp';
export const READY_PATH = '/ready';
export const CLIENT_HEADER = 'x-ferry-client';

/** Large flow-control windows: one stream moves ~720 MB/s over loopback TLS instead of ~550 with 64 KiB. */
export const WINDOW_BYTES = 16 * 1024 * 1024;
export const HTTP2_SETTINGS = { initialWindowSize: WINDOW_BYTES, maxConcurrentStreams: 10_000 };

export interface ClientAddress {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

export function encodeClient(c: ClientAddress): string {
  return `${c.family} ${c.address} ${c.port}`;
}

export function decodeClient(value: string | undefined): ClientAddress | undefined {
  const [family, address, port] = (value ?? '').split(' ');
  if ((family !== 'IPv4' && family !== 'IPv6') || !address || !/^\d{1,5}$/.test(port ?? '')) return undefined;
  return { family, address, port: Number(port) };
}

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

/** Reads the mutual-TLS files a tunnel needs; a clear error names what is missing. */
export function readTls(tls: TlsFiles, who: string): { ca: Buffer; cert: Buffer; key: Buffer } {
  const missing = (['ca', 'cert', 'key'] as const).filter((k) => !tls[k]);
  if (missing.length > 0) {
    throw new Error(`${who} needs tls.${missing.join(', tls.')} (FERRY_TLS_${missing.map((m) => m.toUpperCase()).join(', FERRY_TLS_')}): make them with ferry pki`);
  }
  const read = (k: 'ca' | 'cert' | 'key') => {
    try {
      return fs.readFileSync(tls[k]!);
    } catch (err) {
      throw new Error(`cannot read tls.${k} ${tls[k]}: ${(err as Error).message}`);
    }
  };
  return { ca: read('ca'), cert: read('cert'), key: read('key') };
}
