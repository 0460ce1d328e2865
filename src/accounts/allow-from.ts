import net from 'node:net';
import { networkMatcher } from '../config/networks.js';
import { AccountError } from './errors.js';

/**
 * An account's allowed source networks: CIDRs in canonical form ("192.0.2.0/24",
 * "2001:db8::/32"), or null for any address. Matching goes through node:net's
 * BlockList, which also matches IPv4-mapped IPv6 addresses (::ffff:192.0.2.7)
 * against IPv4 networks and the other way round.
 */
export type AllowFrom = string[] | null;

/** The 4 or 16 bytes of an address that net.isIP accepted. */
function addressBytes(address: string, family: 4 | 6): number[] {
  if (family === 4) return address.split('.').map(Number);
  let text = address;
  const v4Tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4Tail) {
    const [a, b, c, d] = v4Tail[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, v4Tail.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const front = groups(head);
  const back = groups(tail);
  const words = tail === undefined ? front : [...front, ...new Array(8 - front.length - back.length).fill(0), ...back];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

function formatAddress(bytes: number[]): string {
  if (bytes.length === 4) return bytes.join('.');
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return `::ffff:${bytes.slice(12).join('.')}`;
  const words = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // The WHATWG URL parser writes IPv6 in its canonical compressed form (RFC 5952).
  return new URL(`http://[${words.join(':')}]`).hostname.slice(1, -1);
}

/** One entry as given by an operator: an address (a /32 or /128) or address/prefix. */
export function parseCidr(entry: string): string {
  const text = entry.trim();
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = net.isIP(address);
  if ((family !== 4 && family !== 6) || address.includes('%')) {
    throw new AccountError(`invalid network "${entry}": give an IPv4 or IPv6 address, optionally with /prefix (e.g. 192.0.2.0/24, 2001:db8::/32)`);
  }
  const max = family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : text.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) {
    throw new AccountError(`invalid network "${entry}": the prefix length must be 0 to ${max}`);
  }
  const bytes = addressBytes(address, family);
  const network = bytes.map((byte, i) => byte & (0xff << Math.max(0, 8 - Math.max(0, prefix - i * 8))) & 0xff);
  if (network.some((byte, i) => byte !== bytes[i])) {
    throw new AccountError(`invalid network "${entry}": it has bits set past /${prefix}; did you mean ${formatAddress(network)}/${prefix}?`);
  }
  return `${formatAddress(bytes)}/${prefix}`;
}

/** Parses operator input into a canonical, duplicate-free list; throws AccountError naming the first bad entry. */
export function parseAllowFrom(entries: string[]): string[] {
  if (entries.length === 0) throw new AccountError('give at least one network (or allow any address)');
  return [...new Set(entries.map(parseCidr))];
}

/** Whether a client address is inside the list (null: any address is allowed). */
export function isAllowed(allowFrom: AllowFrom, clientAddress: string): boolean {
  return allowFrom === null || networkMatcher(allowFrom)(clientAddress);
}

/** The database column holds a JSON array of canonical CIDRs, or NULL for any address. */
export function decodeAllowFrom(column: string | null): AllowFrom {
  return column === null ? null : (JSON.parse(column) as string[]);
}

export function encodeAllowFrom(allowFrom: AllowFrom): string | null {
  return allowFrom === null ? null : JSON.stringify(allowFrom);
}
