/** Runs one scenario against every server: timed runs interleaved, each checked, with memory sampled. */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemorySampler } from '../../test/harness/process-tree.js';
import { cpuDelta, cpuSample, trees } from './process-cpu.js';
import { StartGate } from './start-gate.js';
import type { Metric, Scenario, Workload } from './scenarios.js';
import { timeSessions, type Target, type Timing } from './target.js';

export type MetricInfo = Omit<Metric, 'value'>;

export interface ScenarioResult {
  name: string;
  /** Per metric label: its description and each server's values, one per successful run. */
  figures: Map<string, { metric: MetricInfo; values: Map<string, number[]> }>;
  /** Servers whose runs stopped on an error, with the error. */
  errors: Map<string, string>;
}

function memoryMetrics(peak: { rssMiB: number; pssMiB: number }, detailed: boolean): Metric[] {
  const rss: Metric = { label: 'peak RSS, sum over server processes (VmRSS)', unit: 'MiB', better: 'lower', combine: 'max', value: peak.rssMiB };
  const pss: Metric = { label: 'peak PSS, sum over server processes (Pss)', unit: 'MiB', better: 'lower', combine: 'max', value: peak.pssMiB };
  return detailed ? [rss, pss] : [rss];
}

function record(result: ScenarioResult, target: Target, metrics: Metric[]): void {
  for (const { value, ...metric } of metrics) {
    let figure = result.figures.get(metric.label);
    if (!figure) result.figures.set(metric.label, (figure = { metric, values: new Map() }));
    const values = figure.values.get(target.name) ?? [];
    figure.values.set(target.name, [...values, value]);
  }
}

function formatRun(metrics: Metric[]): string {
  return metrics.map((m) => `${m.value.toFixed(m.value < 100 ? 1 : 0)} ${m.unit}`).join(', ');
}

/**
 * The server's CPU time over a run (user + system, its finished children's
 * included): unlike the rates, it hardly moves when a busy host slows both
 * servers down. sshd reaps a session's processes just after the client exits,
 * hence the short wait before the second sample.
 */
async function serverCpu(target: Target, run: () => Promise<Timing>): Promise<{ timing: Timing; cpu: Metric }> {
  const groups = { server: () => trees([target.pid]) };
  const before = cpuSample(groups);
  const timing = await run();
  await sleep(300);
  const seconds = cpuDelta(before, cpuSample(groups)).seconds['server']!;
  return { timing, cpu: { label: 'server CPU time, user + system', unit: 's', better: 'lower', combine: 'median', value: seconds } };
}

/** One timed run: the sessions with the server's memory and CPU time sampled, then the check and the clean-up. */
async function timedRun(scenario: Scenario, work: Workload, target: Target, gate: StartGate | undefined): Promise<Metric[]> {
  const sampler = new MemorySampler(target.pid);
  try {
    const { timing, cpu } = await serverCpu(target, () => timeSessions(target, work.sessions, work.timeoutMs, gate));
    const peak = sampler.stop();
    work.verify(target);
    return [...work.metrics(timing), cpu, ...memoryMetrics(peak, scenario.detailedMemory)];
  } finally {
    sampler.stop();
    work.clear(target);
  }
}

export async function runScenario(
  scenario: Scenario,
  dir: string,
  targets: Target[],
  runs: number,
  /** Runs per server before the timed ones, not counted in the figures (see Scenario.warmupPerWorker). */
  warmupRuns: number,
  signal: AbortSignal,
): Promise<ScenarioResult> {
  const result: ScenarioResult = { name: scenario.name, figures: new Map(), errors: new Map() };
  const sourceDir = path.join(dir, scenario.name);
  fs.mkdirSync(sourceDir, { recursive: true });
  const fail = (target: Target, err: unknown) => {
    if (signal.aborted) return; // Sessions cut short by the abort itself.
    const message = (err as Error).message ?? String(err);
    result.errors.set(target.name, message);
    console.error(`[${scenario.name}] ${target.name} FAILED: ${message}`);
  };
  try {
    console.error(`[${scenario.name}] preparing`);
    const work = await scenario.prepare(sourceDir);
    const gate = work.gated ? new StartGate(path.join(sourceDir, 'gate')) : undefined;
    for (const target of targets) {
      if (work.setUp) await work.setUp(target).catch((err) => fail(target, err));
    }
    // Warm-up runs first, the same for both servers; their headline figure is reported on its own row.
    const warmupFigures: Array<[Target, Metric]> = [];
    for (let run = 0; run < warmupRuns + runs && !signal.aborted; run++) {
      const warmup = run < warmupRuns;
      // Alternate who goes first, so a slow drift of the machine hits both alike.
      const order = run % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order.filter((t) => !result.errors.has(t.name))) {
        if (signal.aborted) break;
        try {
          const metrics = await timedRun(scenario, work, target, gate);
          if (warmup) warmupFigures.push([target, { ...metrics[0]!, label: `warm-up runs: ${metrics[0]!.label}` }]);
          else record(result, target, metrics);
          const which = warmup ? `warm-up ${run + 1}/${warmupRuns}` : `run ${run - warmupRuns + 1}/${runs}`;
          console.error(`[${scenario.name}] ${which} ${target.name.padEnd(7)} ${formatRun(metrics)}`);
        } catch (err) {
          fail(target, err);
        }
      }
    }
    for (const [target, metric] of warmupFigures) record(result, target, [metric]);
    for (const target of targets) work.tearDown?.(target);
  } finally {
    fs.rmSync(sourceDir, { recursive: true, force: true });
  }
  return result;
}
