import type { ClusterView } from '../cluster/cluster-admin.js';
import { isoTime } from './time.js';

/** The stable JSON shape of `ferry cluster status --json` (documented in docs/cli.md). */
export function clusterJson(view: ClusterView) {
  return {
    mode: view.mode,
    primary: view.primary.nodeId ? { node: view.primary.name, nodeId: view.primary.nodeId, token: view.primary.token } : null,
    nodes: view.nodes.map((n) => ({
      name: n.name,
      id: n.id,
      role: n.role,
      state: n.state,
      ready: n.ready,
      heartbeatAgeMs: n.heartbeatAgeMs,
      sessions: n.sessions,
      version: n.version,
      mode: n.mode,
      sftp: n.sftpAddress,
      admin: n.adminAddress,
      started: isoTime(n.startedAt),
    })),
    events: view.events.map((e) => ({ at: isoTime(e.at), kind: e.kind, node: e.node_name, nodeId: e.node_id, detail: e.detail })),
  };
}
