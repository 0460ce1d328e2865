import type { Kysely, Selectable } from 'kysely';
import ssh2 from '../ssh2/library.js';
import type { Database, PartnersTable } from '../db/schema.js';

export type PartnerRow = Selectable<PartnersTable>;

export interface SftpPartner {
  protocol: 'sftp';
  host: string;
  port: number;
  username: string;
  /** Remote directory files are delivered to (and pulled from). */
  dir: string;
  password?: string;
  privateKey?: string;
  /** The partner's pinned host key (SSH wire format, base64). Pinned at first contact when not given. */
  hostKey?: string;
}

export interface HttpsPartner {
  protocol: 'https';
  /** PUT sends to url + '/' + file name; POST sends multipart/form-data to url. */
  url: string;
  method: 'PUT' | 'POST';
  headers: Record<string, string>;
  /** Extra CA certificates (PEM) trusted for this partner; TLS is always verified. */
  ca?: string;
}

export type PartnerSettings = SftpPartner | HttpsPartner;

export class PartnerError extends Error {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateName(kind: string, name: string): void {
  if (!NAME.test(name)) throw new PartnerError(`invalid ${kind} name "${name}": use letters, digits, '.', '_' or '-' (at most 64)`);
}

/** Parses sftp://USER@HOST:PORT/DIR (a password in the URL is refused: it would land in shell history). */
export function parseSftpUrl(text: string): Omit<SftpPartner, 'protocol'> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new PartnerError(`invalid URL "${text}"`);
  }
  if (url.protocol !== 'sftp:') throw new PartnerError(`"${text}" is not an sftp:// URL`);
  if (!url.username) throw new PartnerError(`the URL "${text}" needs a user: sftp://USER@HOST:PORT/DIR`);
  if (url.password) throw new PartnerError('do not put a password in the URL: use --password-stdin');
  if (!url.hostname) throw new PartnerError(`the URL "${text}" needs a host`);
  const dir = decodeURIComponent(url.pathname) || '/';
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 22,
    username: decodeURIComponent(url.username),
    dir,
  };
}

export function parseHttpsUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new PartnerError(`invalid URL "${text}"`);
  }
  if (url.protocol !== 'https:') throw new PartnerError(`"${text}" is not an https:// URL (files and headers never travel unencrypted)`);
  if (url.username || url.password) throw new PartnerError('do not put credentials in the URL: use --header');
  return url.toString();
}

export function isHeaderName(name: string): boolean {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name);
}

/** Parses a header given as 'Name: value'. */
export function parseHeader(text: string): [string, string] {
  const at = text.indexOf(':');
  const name = at > 0 ? text.slice(0, at).trim() : '';
  if (!isHeaderName(name)) throw new PartnerError(`invalid header "${text}": use 'Name: value'`);
  return [name, text.slice(at + 1).trim()];
}

/** A partner's login key must be an unencrypted OpenSSH or PEM private key. */
export function validatePrivateKey(text: string): void {
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error) throw new PartnerError(`not a usable private key (${parsed.message}; encrypted keys are not supported)`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key?.isPrivateKey()) throw new PartnerError('this is a public key; give the private key Ferry logs in with');
}

/**
 * The host key in a `.pub` file or a `known_hosts` line (the first one found), as
 * the wire-format blob in base64; undefined when the text holds none.
 */
export function parseHostKey(text: string): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    const fields = line.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) continue;
    const at = fields.findIndex((f) => /^(ssh-|ecdsa-|sk-)/.test(f));
    if (at < 0 || !fields[at + 1]) continue;
    const parsed = ssh2.utils.parseKey(`${fields[at]} ${fields[at + 1]}`);
    if (parsed instanceof Error) throw new PartnerError(`not an SSH public key (${parsed.message})`);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key) return key.getPublicSSH().toString('base64');
  }
  return undefined;
}

/** A pinned host key (wire-format blob, base64) as an OpenSSH public key line: `ssh-ed25519 AAAA…`. */
export function hostKeyLine(blob: string): string {
  const bytes = Buffer.from(blob, 'base64');
  const typeLength = bytes.readUInt32BE(0);
  return `${bytes.subarray(4, 4 + typeLength).toString('latin1')} ${blob}`;
}

/** An extra CA for an HTTPS partner: PEM certificates. */
export function validateCa(pem: string): void {
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(pem)) {
    throw new PartnerError('not a PEM certificate (-----BEGIN CERTIFICATE-----)');
  }
}

/** The URL shown to operators: never a secret. */
export function displayUrl(settings: PartnerSettings): string {
  if (settings.protocol === 'https') {
    // A query string may carry a token (signed URLs): never shown.
    const url = new URL(settings.url);
    return `${url.origin}${url.pathname}${url.search ? '?…' : ''}`;
  }
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return `sftp://${encodeURIComponent(settings.username)}@${host}:${settings.port}${settings.dir}`;
}

/** Partners live in the database, shared by every node. */
export class PartnerStore {
  constructor(private readonly db: Kysely<Database>) {}

  async add(name: string, settings: PartnerSettings): Promise<PartnerRow> {
    validateName('partner', name);
    if (await this.find(name)) throw new PartnerError(`partner "${name}" already exists`);
    const now = Date.now();
    return this.db
      .insertInto('partners')
      .values({ name, protocol: settings.protocol, url: displayUrl(settings), settings: JSON.stringify(settings), created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Replaces the settings of an existing partner. */
  async update(name: string, settings: PartnerSettings): Promise<void> {
    const result = await this.db
      .updateTable('partners')
      .set({ protocol: settings.protocol, url: displayUrl(settings), settings: JSON.stringify(settings), updated_at: Date.now() })
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new PartnerError(`no partner named "${name}"`);
  }

  find(name: string): Promise<PartnerRow | undefined> {
    return this.db.selectFrom('partners').selectAll().where('name', '=', name).executeTakeFirst();
  }

  async get(name: string): Promise<PartnerRow> {
    const row = await this.find(name);
    if (!row) throw new PartnerError(`no partner named "${name}"`);
    return row;
  }

  list(): Promise<PartnerRow[]> {
    return this.db.selectFrom('partners').selectAll().orderBy('name').execute();
  }

  async remove(name: string): Promise<void> {
    const users = await this.db
      .selectFrom('routes')
      .select('name')
      .where('action', 'like', `%"partner":${JSON.stringify(name)}%`)
      .execute();
    const schedules = await this.db
      .selectFrom('schedules')
      .select('name')
      .where('action', 'like', `%"partner":${JSON.stringify(name)}%`)
      .execute();
    const using = [...users.map((r) => `route ${r.name}`), ...schedules.map((s) => `schedule ${s.name}`)];
    if (using.length > 0) throw new PartnerError(`partner "${name}" is used by ${using.join(', ')}: remove those first`);
    const result = await this.db.deleteFrom('partners').where('name', '=', name).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw new PartnerError(`no partner named "${name}"`);
  }

  /** Pins the host key seen at first contact (trust on first use, as OpenSSH's accept-new). */
  async pinHostKey(name: string, hostKey: string): Promise<void> {
    const row = await this.get(name);
    const settings = JSON.parse(row.settings) as PartnerSettings;
    if (settings.protocol !== 'sftp' || settings.hostKey) return;
    await this.db
      .updateTable('partners')
      .set({ settings: JSON.stringify({ ...settings, hostKey }), updated_at: Date.now() })
      .where('name', '=', name)
      .where('settings', '=', row.settings)
      .execute();
  }
}

export function partnerSettings(row: PartnerRow): PartnerSettings {
  return JSON.parse(row.settings) as PartnerSettings;
}
