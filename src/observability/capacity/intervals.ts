import { summarize, type Summary } from './statistics.js';

/** A completed transfer as the capacity report sees it. */
export interface TimedTransfer {
  nodeId: string;
  startedAt: number;
  endedAt: number;
  /** Bytes that crossed the wire (a resumed upload: only the part sent in this session). */
  bytes: number;
}

export interface Window {
  since: number;
  until: number;
  intervalMs: number;
}

export interface IntervalStats {
  start: number;
  end: number;
  /** Transfers that started in this interval: the per-transfer statistics are theirs. */
  count: number;
  bytes: number;
  /** Transfer times in seconds. */
  seconds: Summary | null;
  /** Per-transfer throughput in bytes per second. */
  throughput: Summary | null;
  /** Mean transfers in flight (Little's law: transfer time spent inside the interval / its length). */
  concurrency: number;
  /** Bytes per second moved during the interval by all nodes (each transfer's bytes spread evenly over its time). */
  load: number;
  /** The same, per node id. */
  nodeLoad: Map<string, number>;
}

/** Transfers shorter than this count as taking it, so a throughput is always finite. */
const MIN_DURATION_MS = 1;

interface Bucket {
  start: number;
  end: number;
  seconds: number[];
  throughput: number[];
  bytes: number;
  busyMs: number;
  movedBytes: number;
  nodeBytes: Map<string, number>;
}

/**
 * Cuts the window into intervals aligned to multiples of intervalMs (UTC) and
 * computes, for each, the statistics of the transfers that started in it and the
 * load (concurrency, bytes per second, per node) of everything in flight during it.
 * The first and last intervals are cut to the window. Transfers are added one at a
 * time, so a long log can be read page by page: only two numbers per transfer stay.
 */
export class IntervalAccumulator {
  private readonly buckets: Bucket[];
  private readonly gridStart: number;
  /** Every node that moved something in the window. */
  readonly nodeIds = new Set<string>();

  constructor(private readonly window: Window) {
    const { since, until, intervalMs } = window;
    this.gridStart = Math.floor(since / intervalMs) * intervalMs;
    const count = Math.max(1, Math.ceil((until - this.gridStart) / intervalMs));
    this.buckets = Array.from({ length: count }, (_, k) => ({
      start: this.gridStart + k * intervalMs,
      end: this.gridStart + (k + 1) * intervalMs,
      seconds: [],
      throughput: [],
      bytes: 0,
      busyMs: 0,
      movedBytes: 0,
      nodeBytes: new Map<string, number>(),
    }));
  }

  private indexOf(time: number): number {
    return Math.min(this.buckets.length - 1, Math.max(0, Math.floor((time - this.gridStart) / this.window.intervalMs)));
  }

  add(t: TimedTransfer): void {
    const { since, until } = this.window;
    if (t.startedAt < since || t.startedAt >= until) return;
    this.nodeIds.add(t.nodeId);
    const durationMs = Math.max(MIN_DURATION_MS, t.endedAt - t.startedAt);
    const own = this.buckets[this.indexOf(t.startedAt)]!;
    own.seconds.push(durationMs / 1000);
    own.throughput.push(t.bytes / (durationMs / 1000));
    own.bytes += t.bytes;

    const end = Math.min(t.startedAt + durationMs, until);
    for (let k = this.indexOf(t.startedAt); k <= this.indexOf(end - 1); k++) {
      const bucket = this.buckets[k]!;
      const overlapMs = Math.max(0, Math.min(end, bucket.end) - Math.max(t.startedAt, bucket.start));
      const share = (t.bytes * overlapMs) / durationMs;
      bucket.busyMs += overlapMs;
      bucket.movedBytes += share;
      bucket.nodeBytes.set(t.nodeId, (bucket.nodeBytes.get(t.nodeId) ?? 0) + share);
    }
  }

  intervals(): IntervalStats[] {
    const { since, until } = this.window;
    return this.buckets.map((b) => {
      const coveredSeconds = (Math.min(b.end, until) - Math.max(b.start, since)) / 1000;
      const perSecond = (value: number) => (coveredSeconds > 0 ? value / coveredSeconds : 0);
      return {
        start: b.start,
        end: b.end,
        count: b.seconds.length,
        bytes: b.bytes,
        seconds: summarize(b.seconds),
        throughput: summarize(b.throughput),
        concurrency: perSecond(b.busyMs / 1000),
        load: perSecond(b.movedBytes),
        nodeLoad: new Map([...b.nodeBytes].map(([node, bytes]) => [node, perSecond(bytes)])),
      };
    });
  }
}
