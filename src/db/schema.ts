import type { Generated } from 'kysely';

/** Times are epoch milliseconds in every table, the same on SQLite and PostgreSQL. */
export interface NodesTable {
  id: string;
  name: string;
  version: string;
  started_at: number;
  heartbeat_at: number;
  stopped_at: number | null;
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
}

export interface Database {
  nodes: NodesTable;
  accounts: AccountsTable;
  account_keys: AccountKeysTable;
  host_keys: HostKeysTable;
  transfers: TransfersTable;
}
