/** The final summary: one row per scenario figure, OpenSSH against Ferry. */
import type { MetricInfo, ScenarioResult } from './runner.js';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function combine(metric: MetricInfo, values: number[] | undefined): number | undefined {
  if (!values || values.length === 0) return undefined;
  return metric.combine === 'max' ? Math.max(...values) : median(values);
}

/**
 * Ferry against OpenSSH run by run (the two runs of a round go back to back):
 * the median of those ratios and their range. On a host whose speed drifts
 * within an invocation this is steadier than the ratio of the two medians.
 */
function runByRun(metric: MetricInfo, reference: number[] | undefined, ferry: number[] | undefined): string {
  if (metric.combine !== 'median' || !reference || !ferry || reference.length !== ferry.length || reference.length < 2) return '-';
  const ratios = reference.map((o, i) => (metric.better === 'higher' ? ferry[i]! / o : o / ferry[i]!)).filter(Number.isFinite);
  if (ratios.length < 2) return '-';
  return `${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`;
}

function formatValue(value: number | undefined): string {
  if (value === undefined) return 'FAILED';
  return value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2);
}

/** Above 1 means Ferry did better: Ferry/OpenSSH for rates, OpenSSH/Ferry for times and memory. */
function ratio(metric: MetricInfo, openssh: number | undefined, ferry: number | undefined): string {
  if (openssh === undefined || ferry === undefined || openssh === 0 || ferry === 0) return '-';
  return (metric.better === 'higher' ? ferry / openssh : openssh / ferry).toFixed(2) + 'x';
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  const line = (r: string[]) => r.map((cell, col) => (col < 3 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/**
 * With `withBase`, two columns more: the base build's figure and Ferry against it
 * run by run (each round runs all three servers back to back).
 */
export function summary(results: ScenarioResult[], withBase = false): string {
  const header = ['scenario', 'figure', 'unit', 'OpenSSH', 'Ferry', 'Ferry vs OpenSSH', 'run by run', 'runs (O/F)'];
  const rows = [withBase ? [...header, 'base', 'Ferry vs base (run by run)'] : header];
  for (const result of results) {
    for (const { metric, values } of result.figures.values()) {
      const figure = (name: string) => (result.errors.has(name) ? undefined : combine(metric, values.get(name)));
      const [openssh, ferry] = [figure('OpenSSH'), figure('Ferry')];
      const runs = `${values.get('OpenSSH')?.length ?? 0}/${values.get('Ferry')?.length ?? 0}`;
      const unit = `${metric.unit}${metric.better === 'lower' ? ' (lower is better)' : ''}`;
      const pairs = result.errors.size > 0 ? '-' : runByRun(metric, values.get('OpenSSH'), values.get('Ferry'));
      const row = [result.name, metric.label, unit, formatValue(openssh), formatValue(ferry), ratio(metric, openssh, ferry), pairs, runs];
      if (withBase) {
        const base = figure('base');
        const basePairs = result.errors.size > 0 ? '-' : runByRun(metric, values.get('base'), values.get('Ferry'));
        row.push(formatValue(base), `${ratio(metric, base, ferry)} (${basePairs})`);
      }
      rows.push(row);
    }
    if (result.figures.size === 0) rows.push([result.name, 'no run completed', '', 'FAILED', 'FAILED', '-', '-', '0/0', ...(withBase ? ['FAILED', '-'] : [])]);
  }
  const notes = [
    'Rates and times are medians of the runs, memory the highest peak. "Ferry vs OpenSSH" above 1 means Ferry did better',
    '(Ferry/OpenSSH for rates, OpenSSH/Ferry for times and memory). MB = 10^6 bytes. Times include logins unless marked otherwise.',
    '"Run by run": the median and range of the ratios of runs that went back to back; steadier than the ratio of',
    'medians when the host speeds up or slows down within one invocation. Trust neither when the range is wide.',
    'VmRSS sums count shared pages once per process that maps them, which overstates sshd (two forked processes per',
    'connection); PSS splits them. Memory is sampled every 100 ms, less often for large trees (sshd under many sessions).',
  ];
  const errors = results.flatMap((r) => [...r.errors].map(([server, message]) => `${r.name}, ${server} FAILED: ${message}`));
  return [table(rows), '', ...notes, ...(errors.length ? ['', ...errors] : [])].join('\n');
}
