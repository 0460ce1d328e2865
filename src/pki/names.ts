import net from 'node:net';
import { PkiError } from './errors.js';

export type Role = 'node' | 'edge';

export function parseRole(text: string): Role {
  if (text !== 'node' && text !== 'edge') throw new PkiError(`the role must be node or edge (got "${text}")`);
  return text;
}

const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** A DNS name: dot-separated labels of letters, digits, '-' and '_' (no leading or trailing '-'). */
export function isDnsName(text: string): boolean {
  return text.length <= 253 && text.split('.').every((label) => LABEL.test(label));
}

/**
 * A certificate name (subject CN, file name NAME.crt / NAME.key): a DNS-name-like
 * string of at most 64 characters, so it is safe as a file name and as the default
 * subjectAltName. `ca` is the CA's own file name.
 */
export function checkCertificateName(name: string): string {
  if (name.length > 64 || !isDnsName(name)) {
    throw new PkiError(`invalid name "${name}": use up to 64 letters, digits, '-', '_' and '.' separating labels (no '/', spaces or leading '-' or '.')`);
  }
  if (name.toLowerCase() === 'ca') throw new PkiError('"ca" is the name of the CA\'s own files; choose another name');
  return name;
}

export interface SubjectAltName {
  type: 'dns' | 'ip';
  value: string;
}

/** subjectAltName entries for host names and IP addresses (IPv4 or IPv6). */
export function subjectAltNames(hosts: string[]): SubjectAltName[] {
  const out: SubjectAltName[] = [];
  for (const host of hosts) {
    const ip = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    if (net.isIP(ip)) out.push({ type: 'ip', value: ip });
    else if (isDnsName(host)) out.push({ type: 'dns', value: host.toLowerCase() });
    else throw new PkiError(`invalid --host "${host}": give a DNS name or an IP address`);
  }
  return out.filter((n, i) => out.findIndex((m) => m.type === n.type && m.value === n.value) === i);
}
