import type { Command } from 'commander';
import { loadCapacityReport, type LoadedCapacityReport } from '../../observability/capacity/load-report.js';
import { capacityWindow } from '../../observability/capacity/window.js';
import { capacityJson } from '../../views/capacity-view.js';
import { printJson, printTable, withDatabase, type GlobalOptions } from '../context.js';

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
  const projection = h.busiestNode
    ? ` (losing ${h.busiestNode}: ${h.projectedNode ?? '-'} would peak at ${formatRate(h.projectedPeakThroughput)}, ${percent(h.projectedPeakLoad)})`
    : '';
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
        const window = capacityWindow(options, { windowMs: config.capacity.window, intervalMs: config.capacity.interval });
        const report = await loadCapacityReport(db, {
          ...window,
          capacity: config.capacity.node_throughput,
          defaultMode: config.cluster.mode,
          minSamples: config.capacity.min_samples,
        });
        if (options.json) printJson(capacityJson(report));
        else printReport(report);
      });
    });
}
