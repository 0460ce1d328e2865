/**
 * The SSH algorithm lists the server offers, settable as in OpenSSH's
 * sshd_config (Ciphers, MACs, KexAlgorithms, HostKeyAlgorithms): a
 * comma-separated list replaces the default; one starting with `+` appends to
 * it, `-` removes from it, `^` puts in front of it. Names are checked against
 * what ssh2 implements, so a typo stops the node with a message instead of
 * failing every handshake.
 */
import { createRequire } from 'node:module';
import '../../ssh2/library.js';

// ssh2's own lists; loaded after ssh2/library.ts (imported above) so ssh2 loads through it.
const constants = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as Record<string, string[]>;

export interface SshAlgorithmSettings {
  ciphers?: string;
  macs?: string;
  kex_algorithms?: string;
  host_key_algorithms?: string;
}

/** What ssh2's Server takes as `algorithms` (compression included). */
export interface SshAlgorithms {
  cipher: string[];
  hmac: string[];
  kex: string[];
  serverHostKey: string[];
  compress: string[];
}

// aes128-ctr + hmac-sha2-256 stay for libssh2 (curl) and old clients.
const DEFAULT_CIPHERS = ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes128-ctr', 'aes192-ctr', 'aes256-ctr'];
const DEFAULT_MACS = ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512'];
// OpenSSH's defaults: no SHA-1 key exchange, no SHA-1 (ssh-rsa) host-key signatures.
const DEFAULT_HOST_KEYS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256'];
const DEFAULT_KEX = constants.DEFAULT_KEX!;
/**
 * zlib@openssh.com starts only after a successful login (ssh2's kex.js and
 * Protocol.authSuccess); plain "zlib" would inflate before it, so it is never offered.
 */
const COMPRESSION = ['none', 'zlib@openssh.com'];

const SETTINGS = [
  { key: 'ciphers', field: 'cipher', defaults: DEFAULT_CIPHERS, supported: constants.SUPPORTED_CIPHER! },
  { key: 'macs', field: 'hmac', defaults: DEFAULT_MACS, supported: constants.SUPPORTED_MAC! },
  { key: 'kex_algorithms', field: 'kex', defaults: DEFAULT_KEX, supported: constants.SUPPORTED_KEX! },
  { key: 'host_key_algorithms', field: 'serverHostKey', defaults: DEFAULT_HOST_KEYS, supported: constants.SUPPORTED_SERVER_HOST_KEY! },
] as const;

/** The lists to offer; throws naming the setting when a name is unknown or the list ends up empty. */
export function resolveSshAlgorithms(settings: SshAlgorithmSettings): SshAlgorithms {
  const out = { compress: COMPRESSION } as SshAlgorithms;
  for (const { key, field, defaults, supported } of SETTINGS) {
    out[field] = applySetting(`sftp.${key}`, settings[key], defaults, supported);
  }
  return out;
}

function applySetting(name: string, value: string | undefined, defaults: readonly string[], supported: readonly string[]): string[] {
  if (value === undefined || value.trim() === '') return [...defaults];
  const text = value.trim();
  const op = '+-^'.includes(text[0]!) ? text[0]! : '';
  const names = text
    .slice(op.length)
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  for (const n of names) {
    if (!supported.includes(n)) throw new Error(`${name}: unsupported algorithm "${n}"; supported: ${supported.join(',')}`);
  }
  let list: string[];
  if (op === '+') list = [...defaults, ...names.filter((n) => !defaults.includes(n))];
  else if (op === '-') list = defaults.filter((n) => !names.includes(n));
  else if (op === '^') list = [...names, ...defaults.filter((n) => !names.includes(n))];
  else list = [...new Set(names)];
  if (list.length === 0) throw new Error(`${name}: "${text}" leaves no algorithm to offer`);
  return list;
}
