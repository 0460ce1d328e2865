/** Runs one scenario against every server: timed runs interleaved, each checked, with memory sampled. */
import fs from 'node:fs';
import path from 'node:path';
import { MemorySampler } from './process-tree.js';
import type { Metric, Scenario, Workload } from './scenarios.js';
import { timeSessions, type Target } from './target.js';

export type MetricInfo = Omit<Metric, 'value'>;

export interface ScenarioResult {
  name: string;
  /** Per metric label: its description and each server's values, one per successful run. */
  figures: Map<string, { metric: MetricInfo; values: Map<string, number[]> }>;
  /** Servers whose runs stopped on an error, with the error. */
  errors: Map<string, string>;
}

function memoryMetrics(peak: { rssMiB: number; anonMiB: number }, detailed: boolean): Metric[] {
  const rss: Metric = { label: 'peak RSS, sum over server processes (VmRSS)', unit: 'MiB', better: 'lower', combine: 'max', value: peak.rssMiB };
  const anon: Metric = { label: 'peak private memory, sum (RssAnon)', unit: 'MiB', better: 'lower', combine: 'max', value: peak.anonMiB };
  return detailed ? [rss, anon] : [rss];
}

function record(result: ScenarioResult, target: Target, metrics: Metric[]): void {
  for (const { value, ...metric } of metrics) {
    let figure = result.figures.get(metric.label);
    if (!figure) result.figures.set(metric.label, (figure = { metric, values: new Map() }));
    const values = figure.values.get(target.name) ?? [];
    figure.values.set(target.name, [...values, value]);
  }
}

function describe(metrics: Metric[]): string {
  return metrics.map((m) => `${m.value.toFixed(m.value < 100 ? 1 : 0)} ${m.unit}`).join(', ');
}

/** One timed run: the sessions with the server's memory sampled, then the check and the clean-up. */
async function timedRun(scenario: Scenario, work: Workload, target: Target): Promise<Metric[]> {
  const sampler = new MemorySampler(target.pid);
  try {
    const ms = await timeSessions(target, work.sessions, work.timeoutMs);
    const peak = sampler.stop();
    work.verify(target);
    return [...work.metrics(ms), ...memoryMetrics(peak, scenario.detailedMemory)];
  } finally {
    sampler.stop();
    work.clear(target);
  }
}

export async function runScenario(scenario: Scenario, dir: string, targets: Target[], runs: number): Promise<ScenarioResult> {
  const result: ScenarioResult = { name: scenario.name, figures: new Map(), errors: new Map() };
  const sourceDir = path.join(dir, scenario.name);
  fs.mkdirSync(sourceDir, { recursive: true });
  const fail = (target: Target, err: unknown) => {
    const message = (err as Error).message ?? String(err);
    result.errors.set(target.name, message);
    console.error(`[${scenario.name}] ${target.name} FAILED: ${message}`);
  };
  try {
    console.error(`[${scenario.name}] writing source files`);
    const work = scenario.prepare(sourceDir);
    for (const target of targets) {
      if (work.setUp) await work.setUp(target).catch((err) => fail(target, err));
    }
    for (let run = 0; run < runs; run++) {
      // Alternate who goes first, so a slow drift of the machine hits both alike.
      const order = run % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order.filter((t) => !result.errors.has(t.name))) {
        try {
          const metrics = await timedRun(scenario, work, target);
          record(result, target, metrics);
          console.error(`[${scenario.name}] run ${run + 1}/${runs} ${target.name.padEnd(7)} ${describe(metrics)}`);
        } catch (err) {
          fail(target, err);
        }
      }
    }
    for (const target of targets) work.tearDown?.(target);
  } finally {
    fs.rmSync(sourceDir, { recursive: true, force: true });
  }
  return result;
}
