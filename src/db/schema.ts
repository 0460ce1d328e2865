import type { Generated } from 'kysely';

/** Times are epoch milliseconds in every table, the same on SQLite and PostgreSQL. */
export interface NodesTable {
  id: string;
  name: string;
  version: string;
  started_at: number;
  heartbeat_at: number;
  stopped_at: number | null;
  /** active, draining or drained; set by `ferry cluster drain`, read back at every heartbeat. */
  state: NodeState;
  /** Whether the node reported itself ready for client sessions at its last heartbeat. */
  ready: number;
  /** Open client sessions at its last heartbeat. */
  sessions: number;
  sftp_address: string | null;
  admin_address: string | null;
  drain_deadline: number | null;
  /** When the primary declared the node lost (cleared when it heartbeats again). */
  lost_at: number | null;
  /** The node's configured cluster.mode. */
  mode: string | null;
}

export type NodeState = 'active' | 'draining' | 'drained';

export interface LeasesTable {
  name: string;
  holder: string | null;
  /** The fencing token: increases with every acquisition, never reused. */
  token: number;
  expires_at: number;
  acquired_at: number | null;
}

export const CLUSTER_EVENT_KINDS = [
  'node-joined',
  'node-lost',
  'node-stopped',
  'primary-changed',
  /** The primary changed because the previous one stopped renewing its lease (recorded with its primary-changed). */
  'failover',
  'node-draining',
  'node-drained',
  'node-removed',
  'database-unreachable',
  'database-recovered',
  /** A queue job (delivery, scheduled push or pull) failed for good: no attempt left, or no retry can fix it. */
  'delivery-failed',
  'account-locked',
  /** Recorded by the capacity report when a figure crosses its warning level. */
  'capacity-warning',
] as const;

export type ClusterEventKind = (typeof CLUSTER_EVENT_KINDS)[number];

export interface ClusterEventsTable {
  id: Generated<number>;
  at: number;
  kind: ClusterEventKind;
  node_id: string | null;
  node_name: string | null;
  detail: string;
}

/** Each configured alert webhook, by a key derived from its URL: where its deliveries start. */
export interface AlertWebhooksTable {
  key: string;
  /** Events with an id up to this one need no delivery row (recorded before the webhook was configured, or all handled). */
  start_after: number;
  created_at: number;
}

export type AlertDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One cluster event to one webhook; written by the primary under its fencing token. */
export interface AlertDeliveriesTable {
  webhook: string;
  event_id: number;
  status: AlertDeliveryStatus;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface AccountsTable {
  id: Generated<number>;
  name: string;
  password_hash: string | null;
  /** Home directory relative to storage.dir. */
  home: string;
  disabled: number;
  created_at: number;
  updated_at: number;
  failure_count: number;
  failure_window_start: number | null;
  last_failure_at: number | null;
  last_failure_address: string | null;
  locked_until: number | null;
  /** JSON array of the CIDRs logins may come from (accounts/allow-from.ts); NULL: any address. */
  allow_from: string | null;
}

export interface AccountKeysTable {
  id: Generated<number>;
  account_id: number;
  algorithm: string;
  /** The SSH wire-format public key, base64. */
  public_key: string;
  fingerprint: string;
  comment: string;
  created_at: number;
}

export interface HostKeysTable {
  algorithm: string;
  private_key: string;
  created_at: number;
}

/** 'queued' is a delivery waiting for its first or next attempt. */
export type TransferStatus = 'queued' | 'in-progress' | 'completed' | 'failed' | 'aborted';
export type TransferDirection = 'upload' | 'download' | 'delivery';

export interface TransfersTable {
  id: Generated<number>;
  node_id: string;
  worker_pid: number;
  session_id: string;
  account: string;
  protocol: string;
  client_address: string;
  path: string;
  direction: TransferDirection;
  /** Offset the transfer started at (non-zero for a resumed upload or download). */
  start_offset: number;
  bytes: number;
  started_at: number;
  ended_at: number | null;
  sha256: string | null;
  status: TransferStatus;
  error: string | null;
  /** inode-size-ctime of the file a completed upload produced (see storage/file-stamp.ts). */
  file_stamp: string | null;
  /** 1 when the transfer carried its whole file from byte 0 to the end, 0 when only part; null in progress, for deliveries and rows before migration 0012. */
  whole_file: number | null;
  /** A delivery's work item. */
  job_id: number | null;
  /** A delivery's attempts so far. */
  attempts: Generated<number>;
  /** Where a delivery goes: partner:NAME[/DIR/FILE] or account:NAME/PATH. */
  destination: string | null;
}

export interface PartnersTable {
  id: Generated<number>;
  name: string;
  protocol: 'sftp' | 'https';
  /** The URL without credentials, for display. */
  url: string;
  /** JSON of PartnerSettings (routing/partners.ts). */
  settings: string;
  created_at: number;
  updated_at: number;
}

export type RouteEvent = 'upload' | 'monitor';
export type AfterDelivery = 'delete' | 'archive';

export interface RoutesTable {
  id: Generated<number>;
  name: string;
  account: string;
  path_glob: string;
  on_event: RouteEvent;
  /** JSON of RouteAction (routing/routes.ts). */
  action: string;
  rename: string | null;
  after_delivery: AfterDelivery | null;
  enabled: number;
  created_at: number;
}

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed';

export interface JobsTable {
  id: Generated<number>;
  kind: string;
  dedupe_key: string | null;
  payload: string;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  run_after: number;
  lease_owner: string | null;
  /** Grows with every claim: a worker whose lease was taken over cannot write any more. */
  lease_token: number;
  lease_expires_at: number | null;
  /** JSON a handler saves to resume from (e.g. the delivery phase). */
  checkpoint: string | null;
  last_error: string | null;
  transfer_id: number | null;
  created_at: number;
  updated_at: number;
}

export interface JobAttemptsTable {
  id: Generated<number>;
  job_id: number;
  attempt: number;
  node_id: string;
  started_at: number;
  ended_at: number | null;
  status: 'running' | 'completed' | 'failed' | 'lost';
  bytes: number;
  error: string | null;
}

export type CatchUp = 'latest' | 'all' | 'none';

export interface SchedulesTable {
  id: Generated<number>;
  name: string;
  cron: string;
  timezone: string | null;
  /** JSON of ScheduleAction (scheduler/schedules.ts). */
  action: string;
  rename: string | null;
  after_delivery: AfterDelivery | null;
  catch_up: CatchUp;
  last_slot: number | null;
  enabled: number;
  created_at: number;
}

export interface MonitorsTable {
  id: Generated<number>;
  name: string;
  account: string;
  /** Directory inside the account's home. */
  dir: string;
  path_glob: string;
  stable_ms: number;
  enabled: number;
  created_at: number;
}

export interface PulledFilesTable {
  schedule_id: number;
  /** The file's name in the partner's directory. */
  name: string;
  /** size-mtime as the partner listed it when it was fetched. */
  version: string;
  pulled_at: number;
}

export interface MonitorFilesTable {
  monitor_id: number;
  path: string;
  /** The version last picked up (size-mtime-inode). */
  stamp: string;
  seen_at: number;
}

export interface Database {
  nodes: NodesTable;
  accounts: AccountsTable;
  account_keys: AccountKeysTable;
  host_keys: HostKeysTable;
  transfers: TransfersTable;
  leases: LeasesTable;
  cluster_events: ClusterEventsTable;
  partners: PartnersTable;
  routes: RoutesTable;
  jobs: JobsTable;
  job_attempts: JobAttemptsTable;
  schedules: SchedulesTable;
  monitors: MonitorsTable;
  monitor_files: MonitorFilesTable;
  pulled_files: PulledFilesTable;
  admin_users: AdminUsersTable;
  admin_tokens: AdminTokensTable;
  alert_webhooks: AlertWebhooksTable;
  alert_deliveries: AlertDeliveriesTable;
  defender_hosts: DefenderHostsTable;
}

/** Written only by accounts/defender.ts. */
export interface DefenderHostsTable {
  /** The client address in canonical form (IPv4 dotted, IPv6 compressed, no zone). */
  address: string;
  /** Points of the failures since window_start. */
  score: number;
  window_start: number;
  /** While in the future, every login and new connection from the address is refused. */
  banned_until: number | null;
  /** Bans so far (while the row is kept): the next one lasts longer. */
  bans: number;
  last_event_at: number;
  /** The account name the last failure tried (cut to 64 characters). */
  last_account: string | null;
}

export type AdminRole = 'admin' | 'operator';

export interface AdminUsersTable {
  id: Generated<number>;
  name: string;
  password_hash: string;
  role: AdminRole;
  disabled: number;
  created_at: number;
  updated_at: number;
}

export interface AdminTokensTable {
  id: Generated<number>;
  /** SHA-256 (hex) of the token; the token itself is never stored. */
  token_hash: string;
  admin_id: number;
  /** session: a console login (cookie); api: a bearer token for scripts. */
  kind: 'session' | 'api';
  label: string;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
}
