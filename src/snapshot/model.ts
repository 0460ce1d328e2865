import { z } from 'zod';

/**
 * The configuration snapshot: what `ferry export` writes and `ferry import`
 * applies, the same in XML and JSON (XML names are these names in kebab-case).
 * Names are the identity of every object; database ids never appear. Adding a
 * field: add it here, in collect.ts/apply.ts (its kind), in xml.ts, and in
 * docs/snapshot.md + docs/ferry-snapshot.xsd.
 */
export const SNAPSHOT_FORMAT = 'ferry-snapshot';
export const SNAPSHOT_VERSION = 1;

/** A credential: its value, or a mark that the export left it out (an import keeps the one in the database). */
const secret = z.union([z.string(), z.strictObject({ omitted: z.literal(true) })]);

const account = z.strictObject({
  name: z.string(),
  home: z.string(),
  enabled: z.boolean().default(true),
  passwordHash: z.string().nullable().default(null),
  /** OpenSSH public key lines: `ssh-ed25519 AAAA… comment`. */
  keys: z.array(z.string()).default([]),
});

const sftpPartner = z.strictObject({
  name: z.string(),
  protocol: z.literal('sftp'),
  /** sftp://USER@HOST:PORT/DIR */
  url: z.string(),
  /** The pinned host key as an OpenSSH public key line; null: pinned at first contact. */
  hostKey: z.string().nullable().default(null),
  password: secret.optional(),
  privateKey: secret.optional(),
});

const header = z.strictObject({ name: z.string(), value: secret });

const httpsPartner = z.strictObject({
  name: z.string(),
  protocol: z.literal('https'),
  /** The URL without its query string (which may hold a token: see `query`). */
  url: z.string(),
  query: secret.optional(),
  method: z.enum(['PUT', 'POST']).default('PUT'),
  headers: z.array(header).default([]),
  /** Extra CA certificates (PEM). */
  ca: z.string().nullable().default(null),
});

const step = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('push'), partner: z.string() }),
  z.strictObject({ type: z.literal('copy'), account: z.string(), dir: z.string().default('/') }),
]);

const afterDelivery = z.enum(['delete', 'archive']).nullable().default(null);

const route = z.strictObject({
  name: z.string(),
  account: z.string(),
  path: z.string().default('**'),
  on: z.enum(['upload', 'monitor']).default('upload'),
  steps: z.array(step),
  rename: z.string().nullable().default(null),
  then: afterDelivery,
  enabled: z.boolean().default(true),
});

const schedule = z.strictObject({
  name: z.string(),
  cron: z.string(),
  timezone: z.string().nullable().default(null),
  action: z.strictObject({
    type: z.enum(['push', 'pull']),
    partner: z.string(),
    account: z.string(),
    dir: z.string().default('/'),
    glob: z.string().default('*'),
  }),
  rename: z.string().nullable().default(null),
  then: afterDelivery,
  catchUp: z.enum(['latest', 'all', 'none']).default('latest'),
  enabled: z.boolean().default(true),
});

const monitor = z.strictObject({
  name: z.string(),
  account: z.string(),
  dir: z.string().default('/'),
  path: z.string().default('*'),
  stableSeconds: z.number().nonnegative().default(5),
  enabled: z.boolean().default(true),
});

const sshHostKey = z.strictObject({ algorithm: z.string(), privateKey: z.string() });

export const snapshotSchema = z.strictObject({
  format: z.literal(SNAPSHOT_FORMAT),
  version: z.literal(SNAPSHOT_VERSION),
  accounts: z.array(account).default([]),
  partners: z.array(z.discriminatedUnion('protocol', [sftpPartner, httpsPartner])).default([]),
  routes: z.array(route).default([]),
  schedules: z.array(schedule).default([]),
  monitors: z.array(monitor).default([]),
  /** The cluster's own SSH host keys (private): only in an export made with --with-host-keys. */
  sshHostKeys: z.array(sshHostKey).optional(),
});

export type Snapshot = z.infer<typeof snapshotSchema>;
export type Secret = z.infer<typeof secret>;
export type AccountSpec = z.infer<typeof account>;
export type PartnerSpec = Snapshot['partners'][number];
export type SftpPartnerSpec = z.infer<typeof sftpPartner>;
export type HttpsPartnerSpec = z.infer<typeof httpsPartner>;
export type RouteSpec = z.infer<typeof route>;
export type ScheduleSpec = z.infer<typeof schedule>;
export type MonitorSpec = z.infer<typeof monitor>;
export type SshHostKeySpec = z.infer<typeof sshHostKey>;

/** The object kinds of a snapshot that have names, in the order an import applies them. */
export const NAMED_KINDS = ['accounts', 'partners', 'routes', 'schedules', 'monitors'] as const;
export type NamedKind = (typeof NAMED_KINDS)[number];

export const OMITTED = { omitted: true } as const;

export function isOmitted(value: Secret | undefined): value is { omitted: true } {
  return typeof value === 'object';
}
