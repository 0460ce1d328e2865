import type { Command } from 'commander';
import { parseDuration } from '../../config/duration.js';
import type { Summary } from '../../observability/capacity/statistics.js';
import { loadCapacityReport, type LoadedCapacityReport } from '../../observability/capacity/load-report.js';
import { SPREAD_THRESHOLD, spreadRatio } from '../../observability/capacity/rules.js';
import { CliError, isoTime, printJson, printTable, withDatabase, type GlobalOptions } from '../context.js';
import { parseSince } from '../since.js';

/** More intervals than this is a typo (--interval 1s over a year), not a report. */
const MAX_INTERVALS = 10_000;

const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;
const nullable = <T, R>(value: T | null, f: (v: T) => R): R | null => (value === null ? null : f(value));

function summaryJson(s: Summary | null, digits: number) {
  return nullable(s, (v) => ({ mean: round(v.mean, digits), stddev: round(v.stddev, digits), p50: round(v.p50, digits), p95: round(v.p95, digits), max: round(v.max, digits) }));
}

/** The stable JSON shape of `ferry capacity --json` (documented in docs/cli.md). */
export function capacityJson(r: LoadedCapacityReport) {
  const name = (id: string | null) => (id === null ? null : (r.nodeNames.get(id) ?? id));
  return {
    since: isoTime(r.window.since),
    until: isoTime(r.window.until),
    intervalSeconds: r.window.intervalMs / 1000,
    mode: r.mode,
    capacityPerNode: r.capacity,
    intervals: r.intervals.map((i) => {
      const spread = spreadRatio(i);
      return {
        start: isoTime(i.start),
        end: isoTime(i.end),
        count: i.count,
        bytes: i.bytes,
        seconds: summaryJson(i.seconds, 3),
        throughput: summaryJson(i.throughput, 0),
        concurrency: round(i.concurrency),
        load: Math.round(i.load),
        nodes: Object.fromEntries([...i.nodeLoad].map(([id, load]) => [name(id), Math.round(load)])),
        spread: nullable(spread, (v) => round(v, 4)),
        erratic: nullable(spread, (v) => v >= SPREAD_THRESHOLD),
      };
    }),
    nearing: r.nearing,
    rules: {
      classic: { ...r.classic, share: nullable(r.classic.share, (v) => round(v, 4)) },
      throughput: {
        ...r.throughput,
        quietConcurrency: nullable(r.throughput.quietConcurrency, round),
        busyConcurrency: nullable(r.throughput.busyConcurrency, round),
        quietP95Throughput: nullable(r.throughput.quietP95Throughput, Math.round),
        busyP95Throughput: nullable(r.throughput.busyP95Throughput, Math.round),
      },
    },
    nodes: r.nodes.map((n) => ({
      id: n.nodeId,
      name: name(n.nodeId),
      peakThroughput: Math.round(n.peakThroughput),
      peakAt: isoTime(n.peakAt),
      peakLoad: nullable(n.peakLoad, (v) => round(v, 4)),
    })),
    headroom: {
      verdict: r.headroom.verdict,
      reason: r.headroom.reason,
      busiestNode: name(r.headroom.busiestNode),
      projectedPeakThroughput: Math.round(r.headroom.projectedPeakThroughput),
      projectedPeakLoad: nullable(r.headroom.projectedPeakLoad, (v) => round(v, 4)),
      projectedPeakAt: isoTime(r.headroom.projectedPeakAt),
      projectedNode: name(r.headroom.projectedNode),
    },
    warning: r.warning,
    reasons: r.reasons,
  };
}

/** Bytes per second with a decimal unit, three significant digits. */
export function formatRate(bytesPerSecond: number): string {
  const units = ['B/s', 'kB/s', 'MB/s', 'GB/s'];
  let value = bytesPerSecond;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) [value, unit] = [value / 1000, unit + 1];
  return value === 0 ? '0 B/s' : `${value.toPrecision(3)} ${units[unit]}`;
}

const yesNo = (v: boolean | null) => (v === null ? 'unknown' : v ? 'yes' : 'no');
const percent = (v: number | null) => (v === null ? '-' : `${Math.round(v * 100)}%`);

function printReport(r: LoadedCapacityReport): void {
  const json = capacityJson(r);
  const capacity = r.capacity === null ? 'not set (capacity.node_throughput)' : formatRate(r.capacity);
  process.stdout.write(
    `capacity from ${json.since} to ${json.until}, ${json.intervalSeconds} s intervals, ${r.mode}, ${r.nodes.length} node(s), capacity per node ${capacity}\n\n`,
  );
  const f = (v: number | undefined, digits = 1) => (v === undefined ? '-' : v.toFixed(digits));
  printTable(
    ['START', 'COUNT', 'BYTES', 'CONC', 'MEAN s', 'SD s', 'P50 s', 'P95 s', 'MAX s', 'P95 RATE', 'LOAD', 'ERRATIC'],
    json.intervals.map((i) => [
      i.start!,
      String(i.count),
      String(i.bytes),
      i.concurrency.toFixed(2),
      f(i.seconds?.mean),
      f(i.seconds?.stddev),
      f(i.seconds?.p50),
      f(i.seconds?.p95),
      f(i.seconds?.max),
      i.throughput ? formatRate(i.throughput.p95) : '-',
      formatRate(i.load),
      i.erratic === null ? '-' : i.erratic ? 'yes' : 'no',
    ]),
  );
  const { classic, throughput } = r;
  process.stdout.write(
    `\nnearing capacity: ${yesNo(r.nearing)}\n` +
      `  classic rule (σ ≥ 20% of max time in 80% of intervals): ${yesNo(classic.verdict)}, ${classic.erratic} of ${classic.intervals} intervals erratic\n` +
      `  throughput rule (p95 throughput as concurrency rises): ${yesNo(throughput.verdict)}, ${throughput.reason}\n\n`,
  );
  printTable(
    ['NODE', 'PEAK', 'PEAK LOAD', 'PEAK AT'],
    json.nodes.map((n) => [n.name ?? n.id, formatRate(n.peakThroughput), percent(n.peakLoad), n.peakAt ?? '-']),
  );
  const h = json.headroom;
  const projection = h.busiestNode ? ` (losing ${h.busiestNode}: ${h.projectedNode ?? '-'} would peak at ${formatRate(h.projectedPeakThroughput)}, ${percent(h.projectedPeakLoad)})` : '';
  process.stdout.write(`\nfailover headroom: ${yesNo(h.verdict)}: ${h.reason}${projection}\n`);
  process.stdout.write(r.warning ? `\nWARNING: ${r.reasons.join('; ')}\n` : '\nno capacity warning\n');
}

export function registerCapacity(program: Command): void {
  program
    .command('capacity')
    .description('transfer-time statistics per interval; nearing capacity? headroom to lose the busiest node?')
    .option('--since <duration|time>', 'how far back (default capacity.window), e.g. 24h, 7d or 2026-11-25T00:00:00Z')
    .option('--interval <duration>', 'length of each interval (default capacity.interval)')
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'YAML configuration file')
    .action(async (options: GlobalOptions & { since?: string; interval?: string; json?: boolean }) => {
      await withDatabase(options, async ({ db }, config) => {
        const until = Date.now();
        const since = options.since ? parseSince(options.since, until) : until - config.capacity.window;
        let intervalMs = config.capacity.interval;
        if (options.interval) {
          try {
            intervalMs = parseDuration(options.interval);
          } catch (err) {
            throw new CliError(`invalid --interval: ${(err as Error).message}`);
          }
          if (intervalMs < 1000) throw new CliError('--interval must be at least 1s');
        }
        if (since >= until) throw new CliError('--since must be before now');
        if ((until - since) / intervalMs > MAX_INTERVALS) {
          throw new CliError(`--since and --interval make more than ${MAX_INTERVALS} intervals: choose a longer --interval`);
        }
        const report = await loadCapacityReport(db, {
          since,
          until,
          intervalMs,
          capacity: config.capacity.node_throughput,
          defaultMode: config.cluster.mode,
        });
        if (options.json) printJson(capacityJson(report));
        else printReport(report);
      });
    });
}
