import net from 'node:net';
import os from 'node:os';
import { z } from 'zod';
import { CLUSTER_EVENT_KINDS } from '../db/schema.js';
import { parseDuration } from './duration.js';
import { parseMaxStartups } from './max-startups.js';
import { networkList } from './networks.js';
import { parseThroughput } from './throughput.js';

/** A duration setting: "30s", "15m", or seconds as a number; parsed to milliseconds. */
const duration = (fallback: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((value, ctx) => {
      try {
        return parseDuration(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });

/** Permission bits written in octal ("0022", "022"; a YAML number is read by its digits, so 0022 and 22 mean the same). */
const octalMode = (fallback: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((value, ctx) => {
      const digits = String(value).trim().replace(/^0o/, '');
      if (!/^[0-7]{1,4}$/.test(digits) || parseInt(digits, 8) > 0o777) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not an octal permission mask such as 0022` });
        return z.NEVER;
      }
      return parseInt(digits, 8);
    });

/** A yes/no setting: true/false in YAML, "true"/"false" (or 1/0, yes/no) in the environment. */
const flag = (fallback: boolean) =>
  z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
    .default(fallback)
    .transform((value) => value === true || value === 'true' || value === '1' || value === 'yes');
/** One alert webhook in YAML; FERRY_ALERTS_WEBHOOKS gives plain URLs (comma-separated) that use alerts.secret. */
const webhook = z
  .object({
    url: z.string().refine((value) => /^https?:$/.test(URL.canParse(value) ? new URL(value).protocol : ''), {
      error: (issue) => `"${String(issue.input)}" is not an http:// or https:// URL`,
    }),
    /** How the webhook shows in logs and metrics; defaults to the URL's host. */
    name: z.string().min(1).max(64).optional(),
    secret: z.string().min(1).optional(),
    secret_file: z.string().min(1).optional(),
    /** Only these event kinds; all when not set. */
    kinds: z.array(z.enum(CLUSTER_EVENT_KINDS)).min(1).optional(),
  })
  .strict();

const alerts = z
  .object({
    webhooks: z
      .union([z.string(), z.array(z.unknown())])
      .default([])
      .transform((value, ctx) => {
        const items =
          typeof value === 'string'
            ? value
                .split(',')
                .map((url) => url.trim())
                .filter(Boolean)
            : value;
        const list: z.output<typeof webhook>[] = [];
        for (const [i, item] of items.entries()) {
          const parsed = webhook.safeParse(typeof item === 'string' ? { url: item } : item);
          if (!parsed.success) {
            for (const issue of parsed.error.issues)
              ctx.addIssue({ code: 'custom', path: [i, ...issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key))], message: issue.message });
          } else if (list.some((other) => other.url === parsed.data.url)) {
            ctx.addIssue({ code: 'custom', path: [i, 'url'], message: `${parsed.data.url} is listed twice` });
          } else {
            list.push(parsed.data);
          }
        }
        return list;
      }),
    /** The HMAC secret of webhooks that name none of their own. */
    secret: z.string().min(1).optional(),
    secret_file: z.string().min(1).optional(),
    /** Wait before the second attempt; doubles with each further one. */
    retry_delay: duration('5s'),
    retry_max_delay: duration('5m'),
    /** An event not acknowledged this long after it happened is given up (and logged). */
    give_up_after: duration('6h'),
    /** How long one request may take. */
    timeout: duration('10s'),
  })
  .superRefine((value, ctx) => {
    if (value.secret && value.secret_file) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'give secret or secret_file, not both' });
    for (const [i, hook] of value.webhooks.entries()) {
      if (hook.secret && hook.secret_file) ctx.addIssue({ code: 'custom', path: ['webhooks', i, 'secret'], message: 'give secret or secret_file, not both' });
      if (!hook.secret && !hook.secret_file && !value.secret && !value.secret_file) {
        ctx.addIssue({ code: 'custom', path: ['webhooks', i], message: `${hook.url} needs a secret: its own secret or secret_file, or alerts.secret` });
      }
    }
  })
  .prefault({});

/** An address or address/prefix (accounts/allow-from.ts puts it in canonical form). */
function isNetwork(text: string): boolean {
  const [address = '', prefix, ...rest] = text.split('/');
  const family = net.isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/**
 * The whole configuration of a node. Every leaf can also be set by the environment
 * variable FERRY_ + its path in upper snake case (see environment.ts).
 */
export const configSchema = z.object({
  data: z.object({ dir: z.string().min(1).default('./data') }).prefault({}),
  storage: z
    .object({
      /** Account homes; defaults to <data.dir>/files. */
      dir: z.string().min(1).optional(),
      /** Partial uploads untouched for longer than this are deleted. */
      partial_max_age: duration('24h'),
      /** Bits cleared from the mode of files and directories users create ("0022", octal; no setuid/setgid/sticky ever). */
      umask: octalMode('0022'),
    })
    .prefault({}),
  transfers: z
    .object({
      /** Transfer-log rows that ended longer ago than this are deleted by the primary; 0 keeps them for good. */
      retention: duration('400d'),
      /** Files one SFTP session may open per second (each is a transfer-log row); beyond a burst of as many again, opens wait. */
      session_rate: z.coerce.number().int().min(1).max(1_000_000).default(2000),
    })
    .prefault({}),
  database: z
    .object({
      /** sqlite:PATH or postgres://…; defaults to sqlite:<data.dir>/ferry.db. */
      url: z.string().min(1).optional(),
    })
    .prefault({}),
  node: z
    .object({
      name: z.string().min(1).default(os.hostname()),
      /** Worker processes serving sessions; 0 means one per core. */
      workers: z.coerce.number().int().min(0).max(256).default(0),
      heartbeat_interval: duration('1s'),
      /** A node whose heartbeat is older than this is considered dead. */
      dead_after: duration('10s'),
    })
    .prefault({}),
  sftp: z
    .object({
      port: port(2222),
      host: z.string().default('0.0.0.0'),
      /** Time from TCP accept to a finished login before a connection is dropped. */
      login_timeout: duration('60s'),
      /** Failed login attempts one connection may make before it is disconnected (OpenSSH MaxAuthTries). */
      max_auth_tries: z.coerce.number().int().min(1).max(100).default(6),
      /** Channels (sessions) one connection may have open at once (OpenSSH MaxSessions). */
      max_sessions: z.coerce.number().int().min(1).max(1000).default(10),
      /** Open file and directory handles of one connection, all its channels together. */
      max_handles: z.coerce.number().int().min(1).max(100000).default(1024),
      /** Open handles of one account on one worker process, all its connections together. */
      max_account_handles: z.coerce.number().int().min(1).max(1000000).default(4096),
      /** Connections not yet logged in, per worker process (OpenSSH MaxStartups, start:rate:full). */
      max_startups: z
        .union([z.string(), z.number()])
        .default('10:30:100')
        .transform((value, ctx) => {
          try {
            return parseMaxStartups(value);
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: (err as Error).message });
            return z.NEVER;
          }
        }),
      /** SSH algorithm lists as in OpenSSH's sshd_config: comma-separated, or starting with +, - or ^ to change the default. */
      ciphers: z.string().optional(),
      macs: z.string().optional(),
      kex_algorithms: z.string().optional(),
      host_key_algorithms: z.string().optional(),
    })
    .prefault({}),
  admin: z
    .object({
      port: port(8443),
      host: z.string().default('0.0.0.0'),
      /** PEM certificate and key of the admin port; without them a self-signed pair is made in data.dir/admin-tls. */
      tls_cert: z.string().optional(),
      tls_key: z.string().optional(),
      /** How long a console login lasts (also the default lifetime of a token from POST /api/v1/login). */
      session_ttl: duration('12h'),
      /** Login attempts allowed per client address per minute. */
      login_rate_limit: z.coerce.number().int().min(1).max(10000).default(10),
    })
    .prefault({}),
  cluster: z
    .object({
      mode: z.enum(['active-active', 'active-passive']).default('active-active'),
      /** How long the primary's lease lasts without renewal: the failover time. */
      lease_ttl: duration('5s'),
      /** How often the primary runs its singleton services (housekeeping). */
      singleton_interval: duration('5s'),
      /** How long `ferry cluster drain` lets in-flight transfers finish by default. */
      drain_timeout: duration('5m'),
      /** Cluster events (and their alert delivery records) are kept this long. */
      event_retention: duration('90d'),
    })
    .prefault({}),
  queue: z
    .object({
      /** Jobs (deliveries) this node works on at once. */
      concurrency: z.coerce.number().int().min(1).max(256).default(4),
      /** How long a claimed job stays this node's without a lease heartbeat: the takeover time after a crash. */
      lease_ttl: duration('30s'),
      /** Attempts before a job is marked failed. */
      max_attempts: z.coerce.number().int().min(1).max(1000).default(5),
      /** Delay before the second attempt; it doubles with every further attempt. */
      retry_delay: duration('10s'),
      retry_max_delay: duration('1h'),
      /** How often an idle node looks for work. */
      poll_interval: duration('1s'),
      /** Completed jobs (and their attempt history) are kept this long; the transfer log keeps deliveries for good. */
      retention: duration('7d'),
    })
    .prefault({}),
  monitor: z
    .object({
      /** How often the primary scans the monitored folders. */
      interval: duration('2s'),
    })
    .prefault({}),
  /** Edges this node dials out to: host:port of their tunnel listeners (FERRY_EDGES: comma-separated). */
  edges: z
    .union([z.string(), z.array(z.string())])
    .default([])
    .transform((value, ctx) => {
      const list = (typeof value === 'string' ? value.split(',') : value).map((v) => v.trim()).filter(Boolean);
      for (const item of list) {
        if (!/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/.test(item)) ctx.addIssue({ code: 'custom', message: `"${item}" is not host:port` });
      }
      return list;
    }),
  /** Mutual TLS for edge tunnels (files made by `ferry pki`): the CA, and this node's or edge's certificate and key. */
  tls: z.object({ ca: z.string().optional(), cert: z.string().optional(), key: z.string().optional() }).prefault({}),
  edge: z
    .object({
      sftp_port: port(2222),
      tunnel_port: port(7443),
      health_port: port(8080),
      /** Address the edge's listeners bind. */
      host: z.string().default('0.0.0.0'),
      /** Clients come through a balancer sending the PROXY protocol (v1 or v2) with their own address; required on every client connection. */
      proxy_protocol: flag(false),
      /** The balancers that may send a PROXY header (required with proxy_protocol): nobody else may connect. */
      proxy_from: networkList,
      /** Client connections that have not sent their first bytes yet, held at once; more are closed at accept. */
      max_pending: z.coerce.number().int().min(1).max(100_000).default(100),
      /** How long a new client may take to send its first bytes (the PROXY header, then the start of SSH). */
      pending_timeout: duration('5s').refine((ms) => ms >= 100, 'must be at least 100ms'),
    })
    .prefault({}),
  capacity: z
    .object({
      /** Length of the intervals the capacity report computes its statistics over. */
      interval: duration('1h').refine((ms) => ms >= 1000, 'must be at least 1s'),
      /** How far back `ferry capacity` and the primary's capacity check look by default. */
      window: duration('24h'),
      /** How often the primary checks capacity; a warning is raised at most once per this interval. */
      check_interval: duration('15m').refine((ms) => ms >= 1000, 'must be at least 1s'),
      /**
       * Transfers an interval needs before the capacity rules judge it: fewer cannot raise a
       * warning. The spread of two or three transfer times is mostly their file sizes, and the
       * nearest-rank p95 of fewer than 20 values is their maximum.
       */
      min_samples: z.coerce.number().int().min(2).max(1_000_000).default(20),
      /** Bytes per second one node can carry (e.g. "100MB/s"): the reference for per-node load and failover headroom. */
      node_throughput: z
        .union([z.string(), z.number()])
        .optional()
        .transform((value, ctx) => {
          if (value === undefined) return undefined;
          try {
            return parseThroughput(value);
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: (err as Error).message });
            return z.NEVER;
          }
        }),
    })
    .prefault({}),
  accounts: z
    .object({
      /** Failed password logins within lockout_window that lock an account. */
      lockout_failures: z.coerce.number().int().min(1).default(5),
      lockout_window: duration('15m'),
      lockout_duration: duration('15m'),
      /** Whether a locked account refuses its keys too; by default wrong passwords lock out passwords only. */
      lockout_keys: flag(false),
    })
    .prefault({}),
  /** Bans client addresses that fail to log in too often, on every node (accounts/defender.ts). */
  defender: z
    .object({
      enabled: flag(true),
      /** Failed password logins from one address within `window` that ban it. */
      threshold: z.coerce.number().int().min(1).max(1000).default(4),
      window: duration('15m'),
      /** The first ban's length; each further ban of the address lasts twice as long, up to ban_time_max. */
      ban_time: duration('15m'),
      /** The longest ban; an address's record (and its count of bans) is also forgotten this long after its last failure or ban. */
      ban_time_max: duration('24h'),
      /** Networks never banned (FERRY_DEFENDER_SAFE_LIST: comma-separated; empty: none). */
      safe_list: z
        .union([z.string(), z.array(z.string())])
        .default(['127.0.0.0/8', '::1/128'])
        .transform((value, ctx) => {
          const list = (typeof value === 'string' ? value.split(',') : value).map((v) => v.trim()).filter(Boolean);
          for (const item of list)
            if (!isNetwork(item)) ctx.addIssue({ code: 'custom', message: `"${item}" is not an IPv4 or IPv6 network (e.g. 192.0.2.0/24)` });
          return list;
        }),
    })
    .prefault({}),
  /** Cluster events sent to webhooks by the primary (see docs/configuration.md, Alerts). */
  alerts,
  shutdown: z.object({ grace: duration('30s') }).prefault({}),
  log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;

/** The configuration with every derived default filled in. */
export interface Config extends Omit<ParsedConfig, 'storage' | 'database'> {
  storage: ParsedConfig['storage'] & { dir: string };
  database: { url: string };
}
