import {
  PartnerStore,
  hostKeyLine,
  isHeaderName,
  parseHostKey,
  parseHttpsUrl,
  parseSftpUrl,
  partnerSettings,
  validateCa,
  validateName,
  validatePrivateKey,
  type PartnerSettings,
  type SftpPartner,
} from '../../routing/partners.js';
import { OMITTED, isOmitted, type HttpsPartnerSpec, type PartnerSpec, type Secret, type SftpPartnerSpec } from '../model.js';
import type { SnapshotPath } from '../errors.js';
import { FieldError, byName, type SnapshotKind } from './kind.js';

/** sftp://USER@HOST:PORT/DIR with every part encoded, so parseSftpUrl gives back exactly these settings. */
function sftpUrl(s: SftpPartner): string {
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  return `sftp://${encodeURIComponent(s.username)}@${host}:${s.port}${s.dir.split('/').map(encodeURIComponent).join('/')}`;
}

function withoutQuery(url: string): { url: string; query?: string } {
  const u = new URL(url);
  const query = u.search.slice(1);
  u.search = '';
  return { url: u.toString(), ...(query ? { query } : {}) };
}

function toSpec(name: string, s: PartnerSettings): PartnerSpec {
  if (s.protocol === 'sftp') {
    return {
      name,
      protocol: 'sftp',
      url: sftpUrl(s),
      hostKey: s.hostKey ? hostKeyLine(s.hostKey) : null,
      ...(s.password !== undefined ? { password: s.password } : {}),
      ...(s.privateKey !== undefined ? { privateKey: s.privateKey } : {}),
    };
  }
  return {
    name,
    protocol: 'https',
    ...withoutQuery(s.url),
    method: s.method,
    headers: byName(Object.entries(s.headers).map(([header, value]) => ({ name: header, value }))),
    ca: s.ca ?? null,
  };
}

function toSettings(spec: PartnerSpec): PartnerSettings {
  const text = (value: Secret | undefined) => (typeof value === 'string' ? value : undefined);
  if (spec.protocol === 'sftp') {
    const password = text(spec.password);
    const privateKey = text(spec.privateKey);
    const hostKey = spec.hostKey === null ? undefined : parseHostKey(spec.hostKey);
    return {
      protocol: 'sftp',
      ...parseSftpUrl(spec.url),
      ...(password !== undefined ? { password } : {}),
      ...(privateKey !== undefined ? { privateKey } : {}),
      ...(hostKey ? { hostKey } : {}),
    };
  }
  const url = new URL(spec.url);
  if (spec.query !== undefined) url.search = text(spec.query)!;
  return {
    protocol: 'https',
    url: url.toString(),
    method: spec.method,
    headers: Object.fromEntries(spec.headers.map((h) => [h.name, text(h.value)!])),
    ...(spec.ca !== null ? { ca: spec.ca } : {}),
  };
}

function normalizeSftp(spec: SftpPartnerSpec): SftpPartnerSpec {
  let url: string;
  try {
    url = sftpUrl({ protocol: 'sftp', ...parseSftpUrl(spec.url) });
  } catch (err) {
    throw new FieldError(['url'], (err as Error).message);
  }
  let hostKey: string | null = null;
  if (spec.hostKey !== null) {
    const blob = (() => {
      try {
        return parseHostKey(spec.hostKey);
      } catch (err) {
        throw new FieldError(['hostKey'], (err as Error).message);
      }
    })();
    if (!blob) throw new FieldError(['hostKey'], 'no SSH host key found: give a line like "ssh-ed25519 AAAA…"');
    hostKey = hostKeyLine(blob);
  }
  if (spec.password !== undefined && spec.privateKey !== undefined) throw new Error('give either a password or a private key, not both');
  if (spec.password === undefined && spec.privateKey === undefined) throw new Error('an sftp partner needs a password or a private key');
  if (typeof spec.privateKey === 'string') {
    try {
      validatePrivateKey(spec.privateKey);
    } catch (err) {
      throw new FieldError(['privateKey'], (err as Error).message);
    }
  }
  if (spec.password === '') throw new FieldError(['password'], 'the password is empty');
  return { ...spec, url, hostKey };
}

function normalizeHttps(spec: HttpsPartnerSpec): HttpsPartnerSpec {
  let split: { url: string; query?: string };
  try {
    split = withoutQuery(parseHttpsUrl(spec.url));
  } catch (err) {
    throw new FieldError(['url'], (err as Error).message);
  }
  if (split.query !== undefined && spec.query !== undefined) throw new FieldError(['url'], 'give the query string in the URL or in query, not both');
  const seen = new Set<string>();
  spec.headers.forEach((h, i) => {
    if (!isHeaderName(h.name)) throw new FieldError(['headers', i], `invalid header name "${h.name}"`);
    if (seen.has(h.name.toLowerCase())) throw new FieldError(['headers', i], `header "${h.name}" is given twice`);
    seen.add(h.name.toLowerCase());
  });
  if (spec.ca !== null) {
    try {
      validateCa(spec.ca);
    } catch (err) {
      throw new FieldError(['ca'], (err as Error).message);
    }
  }
  const query = spec.query ?? split.query;
  return { ...spec, url: split.url, ...(query !== undefined ? { query } : {}), headers: byName(spec.headers) };
}

/** The value the database holds for a credential the file left out. */
function kept(value: Secret | undefined, current: Secret | undefined, path: SnapshotPath, what: string, partner: string): Secret | undefined {
  if (!isOmitted(value)) return value;
  if (typeof current === 'string') return current;
  throw new FieldError(
    path,
    `the snapshot leaves out the ${what} of partner "${partner}" and the database has none to keep: export with --with-secrets, or write it into the file`,
  );
}

/** Partners with their connection settings; credentials only in an export --with-secrets. */
export const partnerKind: SnapshotKind<PartnerSpec> = {
  key: 'partners',
  noun: 'partner',

  async read(db) {
    const rows = await new PartnerStore(db).list();
    return rows.map((row) => toSpec(row.name, partnerSettings(row)));
  },

  redact(spec) {
    if (spec.protocol === 'sftp') {
      return {
        ...spec,
        ...(spec.password !== undefined ? { password: OMITTED } : {}),
        ...(spec.privateKey !== undefined ? { privateKey: OMITTED } : {}),
      };
    }
    return {
      ...spec,
      ...(spec.query !== undefined ? { query: OMITTED } : {}),
      headers: spec.headers.map((h) => ({ name: h.name, value: OMITTED })),
    };
  },

  normalize(spec) {
    validateName('partner', spec.name);
    return spec.protocol === 'sftp' ? normalizeSftp(spec) : normalizeHttps(spec);
  },

  resolve(spec, current) {
    if (spec.protocol === 'sftp') {
      const was = current?.protocol === 'sftp' ? current : undefined;
      const password = kept(spec.password, was?.password, ['password'], 'password', spec.name);
      const privateKey = kept(spec.privateKey, was?.privateKey, ['privateKey'], 'private key', spec.name);
      return {
        ...spec,
        // A host key pinned at first contact stays pinned unless the file names one.
        hostKey: spec.hostKey ?? was?.hostKey ?? null,
        ...(password !== undefined ? { password } : {}),
        ...(privateKey !== undefined ? { privateKey } : {}),
      };
    }
    const was = current?.protocol === 'https' ? current : undefined;
    const query = kept(spec.query, was?.query, ['query'], 'URL query string', spec.name);
    return {
      ...spec,
      ...(query !== undefined ? { query } : {}),
      headers: spec.headers.map((h, i) => ({
        name: h.name,
        value: kept(h.value, was?.headers.find((c) => c.name === h.name)?.value, ['headers', i], `header ${h.name}`, spec.name)!,
      })),
    };
  },

  create: async (db, spec) => void (await new PartnerStore(db).add(spec.name, toSettings(spec))),
  update: (db, spec) => new PartnerStore(db).update(spec.name, toSettings(spec)),
  remove: (db, name) => new PartnerStore(db).remove(name),
};
