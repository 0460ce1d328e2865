import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ClusterSnapshot } from './cluster-snapshot.js';
import type { MetricEvent } from './metric-events.js';

/** What the supervisor knows of itself at scrape time. */
export interface NodeMetricsSource {
  /** Undefined while the node is still starting. */
  status(): { role: 'primary' | 'standby'; ready: boolean; databaseReachable: boolean } | undefined;
  /** The cluster-wide figures from the database. */
  cluster(): Promise<ClusterSnapshot>;
}

export interface NodeMetricsIdentity {
  nodeId: string;
  name: string;
  version: string;
  mode: string;
  /** The queue job kinds this node runs, so their series exist from the start. */
  jobKinds: string[];
}

/** A scrape waits this long for the database, then answers without the cluster-wide figures. */
const CLUSTER_READ_TIMEOUT_MS = 3000;

const TRANSFER_SECONDS_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200];
const ROUND_TRIP_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type OpenGauge = Gauge<string>;

/**
 * The node's Prometheus metrics, kept in the supervisor (docs/metrics.md lists
 * them): what its workers report (logins, sessions, transfers), what the
 * supervisor does (queue attempts, heartbeats, alerts), and, read at each
 * scrape, what it sees of the cluster (peers, lease, queue).
 */
export class NodeMetrics {
  readonly registry = new Registry();
  /** Open sessions and transfers per worker, so those of a worker that died can be taken back. */
  private readonly openByWorker = new Map<number, Array<{ gauge: OpenGauge; labels: Record<string, string> }>>();

  private readonly sessionsOpen = this.gauge('ferry_sessions_open', 'Client sessions logged in now.', ['protocol']);
  private readonly sessionsTotal = this.counter('ferry_sessions_total', 'Client sessions logged in since the node started.', ['protocol']);
  private readonly logins = this.counter('ferry_logins_total', 'Login attempts by result (ok, failed).', ['protocol', 'result']);
  private readonly passwordHashes = this.counter(
    'ferry_password_hashes_total',
    'Password hashes (scrypt) computed for logins, including the dummy ones that make a refused login cost as much as a wrong password.',
  );
  private readonly transfersOpen = this.gauge('ferry_transfers_in_progress', 'Uploads and downloads running now.', ['protocol', 'direction']);
  private readonly transfers = this.counter('ferry_transfers_total', 'Uploads and downloads ended, by status (completed, failed, aborted).', [
    'protocol',
    'direction',
    'status',
  ]);
  private readonly transferBytes = this.counter('ferry_transfer_bytes_total', 'Bytes moved by ended uploads and downloads, whatever their status.', [
    'protocol',
    'direction',
  ]);
  private readonly transferSeconds = this.histogram(
    'ferry_transfer_duration_seconds',
    'Duration of completed uploads and downloads.',
    TRANSFER_SECONDS_BUCKETS,
    ['protocol', 'direction'],
  );
  private readonly deliveries = this.counter(
    'ferry_deliveries_total',
    'Queue job attempts run by this node, by job kind and outcome (completed, retry, failed).',
    ['kind', 'outcome'],
  );
  private readonly roundTrip = this.histogram(
    'ferry_database_round_trip_seconds',
    "Duration of the node's heartbeat statement: one database round trip.",
    ROUND_TRIP_SECONDS_BUCKETS,
  );
  private readonly alertsSent = this.counter(
    'ferry_alert_deliveries_total',
    'Alert webhook requests made by this node as primary, by result (delivered, retry, given-up).',
    ['webhook', 'result'],
  );

  private readonly primary = this.gauge('ferry_node_primary', '1 while this node holds the primary lease.');
  private readonly ready = this.gauge('ferry_node_ready', '1 while this node is ready for client sessions (as /health/ready).');
  private readonly databaseReachable = this.gauge('ferry_database_reachable', "1 while this node's heartbeats reach the database.");
  private readonly clusterOk = this.gauge(
    'ferry_cluster_metrics_ok',
    '1 when this scrape read the cluster-wide figures (peers, lease, queue) from the database.',
  );
  private readonly peerAge = this.gauge(
    'ferry_peer_heartbeat_age_seconds',
    "Age of each node's last heartbeat, on the database clock, as this node reads it.",
    ['peer', 'peer_id'],
  );
  private readonly leaseToken = this.gauge('ferry_lease_token', "The primary lease's fencing token: it grows by one with every change of primary.");
  private readonly leaseHolder = this.gauge('ferry_lease_holder', '1 for the node holding an unexpired primary lease; no series while none does.', [
    'node',
    'node_id',
  ]);
  private readonly queueJobs = this.gauge('ferry_queue_jobs', 'Jobs in the cluster-wide work queue by state (queued, running, failed).', ['state']);
  private readonly queueOldest = this.gauge('ferry_queue_oldest_age_seconds', 'Age of the oldest queued or running job; 0 when there is none.');

  constructor(
    identity: NodeMetricsIdentity,
    private readonly source: NodeMetricsSource,
  ) {
    this.gauge('ferry_node_info', 'Always 1; the labels describe this node.', ['node', 'node_id', 'version', 'mode']).set(
      { node: identity.name, node_id: identity.nodeId, version: identity.version, mode: identity.mode },
      1,
    );
    // Series that exist from the start, so that increase() and rate() see their first change.
    const protocol = 'sftp';
    for (const result of ['ok', 'failed']) this.logins.inc({ protocol, result }, 0);
    this.sessionsTotal.inc({ protocol }, 0);
    this.passwordHashes.inc(0);
    this.sessionsOpen.set({ protocol }, 0);
    for (const direction of ['upload', 'download']) {
      this.transfersOpen.set({ protocol, direction }, 0);
      this.transferBytes.inc({ protocol, direction }, 0);
      this.transferSeconds.zero({ protocol, direction });
      for (const status of ['completed', 'failed', 'aborted']) this.transfers.inc({ protocol, direction, status }, 0);
    }
    for (const kind of identity.jobKinds) for (const outcome of ['completed', 'retry', 'failed']) this.deliveries.inc({ kind, outcome }, 0);
  }

  private counter(name: string, help: string, labelNames: string[] = []): Counter<string> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge(name: string, help: string, labelNames: string[] = []): Gauge<string> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram(name: string, help: string, buckets: number[], labelNames: string[] = []): Histogram<string> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  /** Applies what a worker reported. */
  workerEvent(pid: number, event: MetricEvent): void {
    switch (event.metric) {
      case 'login':
        this.logins.inc({ protocol: event.protocol, result: event.ok ? 'ok' : 'failed' });
        break;
      case 'password-hash':
        this.passwordHashes.inc();
        break;
      case 'session':
        if (event.open) this.sessionsTotal.inc({ protocol: event.protocol });
        this.trackOpen(pid, this.sessionsOpen, { protocol: event.protocol }, event.open);
        break;
      case 'transfer-started':
        this.trackOpen(pid, this.transfersOpen, { protocol: event.protocol, direction: event.direction }, true);
        break;
      case 'transfer-ended': {
        const labels = { protocol: event.protocol, direction: event.direction };
        this.trackOpen(pid, this.transfersOpen, labels, false);
        this.transfers.inc({ ...labels, status: event.status });
        this.transferBytes.inc(labels, event.bytes);
        if (event.status === 'completed') this.transferSeconds.observe(labels, event.seconds);
        break;
      }
    }
  }

  private trackOpen(pid: number, gauge: OpenGauge, labels: Record<string, string>, open: boolean): void {
    const list = this.openByWorker.get(pid) ?? [];
    this.openByWorker.set(pid, list);
    if (open) {
      list.push({ gauge, labels });
      gauge.inc(labels);
      return;
    }
    const at = list.findIndex((o) => o.gauge === gauge && sameLabels(o.labels, labels));
    if (at < 0) return;
    list.splice(at, 1);
    gauge.dec(labels);
  }

  /** A worker died: its sessions and transfers are no longer open. */
  forgetWorker(pid: number): void {
    for (const o of this.openByWorker.get(pid) ?? []) o.gauge.dec(o.labels);
    this.openByWorker.delete(pid);
  }

  queueAttempt(kind: string, outcome: 'completed' | 'retry' | 'failed'): void {
    this.deliveries.inc({ kind, outcome });
  }

  databaseRoundTrip(seconds: number): void {
    this.roundTrip.observe(seconds);
  }

  alertSent(webhook: string, result: 'delivered' | 'retry' | 'given-up'): void {
    this.alertsSent.inc({ webhook, result });
  }

  /** The exposition text for one scrape. */
  async scrape(): Promise<string> {
    const status = this.source.status();
    this.primary.set(status?.role === 'primary' ? 1 : 0);
    this.ready.set(status?.ready ? 1 : 0);
    this.databaseReachable.set(status && !status.databaseReachable ? 0 : 1);
    let cluster: ClusterSnapshot | undefined;
    try {
      cluster = await withTimeout(this.source.cluster(), CLUSTER_READ_TIMEOUT_MS);
    } catch {
      // Better no figure than a stale one: the cluster-wide series are absent from this scrape.
    }
    for (const g of [this.peerAge, this.leaseHolder, this.queueJobs, this.leaseToken, this.queueOldest]) g.reset();
    if (cluster) this.setCluster(cluster);
    this.clusterOk.set(cluster ? 1 : 0);
    return this.registry.metrics();
  }

  private setCluster(c: ClusterSnapshot): void {
    for (const p of c.peers) this.peerAge.set({ peer: p.name, peer_id: p.id }, p.heartbeatAgeSeconds);
    this.leaseToken.set(c.lease.token);
    if (c.lease.holder) this.leaseHolder.set({ node: c.lease.holder.name, node_id: c.lease.holder.id }, 1);
    for (const [state, n] of Object.entries(c.queue.jobs)) this.queueJobs.set({ state }, n);
    this.queueOldest.set(c.queue.oldestAgeSeconds);
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
