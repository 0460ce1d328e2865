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

export type ClusterEventKind =
  | 'node-joined'
  | 'node-lost'
  | 'node-stopped'
  | 'primary-changed'
  | 'node-draining'
  | 'node-drained'
  | 'node-removed'
  | 'database-unreachable'
  | 'database-recovered';

export interface ClusterEventsTable {
  id: Generated<number>;
  at: number;
  kind: ClusterEventKind;
  node_id: string | null;
  node_name: string | null;
  detail: string;
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

export type TransferStatus = 'in-progress' | 'completed' | 'failed' | 'aborted';
export type TransferDirection = 'upload' | 'download';

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
}

export interface Database {
  nodes: NodesTable;
  accounts: AccountsTable;
  account_keys: AccountKeysTable;
  host_keys: HostKeysTable;
  transfers: TransfersTable;
  leases: LeasesTable;
  cluster_events: ClusterEventsTable;
}
