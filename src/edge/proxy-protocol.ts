import net from 'node:net';
import type { ClientAddress } from './tunnel-protocol.js';

/**
 * The PROXY protocol (haproxy.org/download/2.6/doc/proxy-protocol.txt): a
 * balancer in front of the edge (HAProxy `send-proxy-v2` or `send-proxy`)
 * writes the client's own address before the client's first byte, so the edge
 * can carry that address to the node instead of the balancer's.
 */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ');
/** A v1 line is at most 107 bytes with its CRLF. */
const V1_MAX = 107;
/** Address block plus TLVs; HAProxy sends a few dozen bytes unless told to add many TLVs. */
const V2_MAX_BODY = 4096;

export class ProxyHeaderError extends Error {}

/** A parsed header: the client (null for a LOCAL or UNKNOWN connection, e.g. the balancer's own check) and its length. */
interface Parsed {
  client: ClientAddress | null;
  length: number;
}

function parseV2(buf: Buffer): Parsed | undefined {
  if (buf.length < 16) return undefined;
  const version = buf[12]! >> 4;
  const command = buf[12]! & 0x0f;
  if (version !== 2 || command > 1) throw new ProxyHeaderError('unsupported PROXY v2 version or command');
  const bodyLength = buf.readUInt16BE(14);
  if (bodyLength > V2_MAX_BODY) throw new ProxyHeaderError('PROXY v2 header too long');
  if (buf.length < 16 + bodyLength) return undefined;
  const length = 16 + bodyLength;
  if (command === 0) return { client: null, length }; // LOCAL
  const family = buf[13]!;
  if (family === 0x11 && bodyLength >= 12) {
    return { client: { family: 'IPv4', address: [...buf.subarray(16, 20)].join('.'), port: buf.readUInt16BE(24) }, length };
  }
  if (family === 0x21 && bodyLength >= 36) {
    const words = [];
    for (let i = 16; i < 32; i += 2) words.push(buf.readUInt16BE(i).toString(16));
    // The URL parser writes IPv6 in its canonical compressed form.
    const address = new URL(`http://[${words.join(':')}]`).hostname.slice(1, -1);
    return { client: { family: 'IPv6', address, port: buf.readUInt16BE(48) }, length };
  }
  if (family === 0x00) return { client: null, length }; // UNSPEC
  throw new ProxyHeaderError('PROXY v2 header for an unsupported address family');
}

function parseV1(buf: Buffer): Parsed | undefined {
  const end = buf.indexOf('\r\n');
  if (end < 0) {
    if (buf.length >= V1_MAX) throw new ProxyHeaderError('PROXY v1 line too long');
    return undefined;
  }
  const [, protocol, source, , sourcePort] = buf.subarray(0, end).toString('latin1').split(' ');
  const length = end + 2;
  if (protocol === 'UNKNOWN') return { client: null, length };
  if ((protocol !== 'TCP4' && protocol !== 'TCP6') || net.isIP(source ?? '') !== (protocol === 'TCP4' ? 4 : 6) || !/^\d{1,5}$/.test(sourcePort ?? '')) {
    throw new ProxyHeaderError('malformed PROXY v1 line');
  }
  return { client: { family: protocol === 'TCP4' ? 'IPv4' : 'IPv6', address: source, port: Number(sourcePort) }, length };
}

/** The header at the start of `buf`: undefined while incomplete; throws when it cannot be one. */
export function parseProxyHeader(buf: Buffer): Parsed | undefined {
  const probe = Math.min(buf.length, V2_SIGNATURE.length);
  if (buf.subarray(0, probe).equals(V2_SIGNATURE.subarray(0, probe))) return probe < V2_SIGNATURE.length ? undefined : parseV2(buf);
  const v1Probe = Math.min(buf.length, V1_PREFIX.length);
  if (buf.subarray(0, v1Probe).equals(V1_PREFIX.subarray(0, v1Probe))) return v1Probe < V1_PREFIX.length ? undefined : parseV1(buf);
  throw new ProxyHeaderError('no PROXY protocol header (edge.proxy_protocol is on: only the balancer may connect)');
}

/**
 * Reads the PROXY header off a new connection and hands on the client's address
 * (the peer's own for a LOCAL header); the bytes after it stay in the socket,
 * unread, for whoever pipes it next. It waits as long as the socket is open: the
 * caller's timer (the edge's pending timeout) closes one that never sends it.
 */
export function readProxyHeader(socket: net.Socket): Promise<ClientAddress | null> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const finish = (error?: Error, client?: ClientAddress | null, rest?: Buffer) => {
      socket.off('data', onData).off('close', onClose);
      socket.pause();
      if (error) return reject(error);
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(client ?? null);
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      try {
        const parsed = parseProxyHeader(buf);
        if (parsed) finish(undefined, parsed.client, buf.subarray(parsed.length));
      } catch (err) {
        finish(err as Error);
      }
    };
    const onClose = () => finish(new ProxyHeaderError('closed before its PROXY protocol header'));
    socket.on('data', onData).on('close', onClose);
  });
}
