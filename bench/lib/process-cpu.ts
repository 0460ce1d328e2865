/**
 * Where the CPU time goes during a measured batch: per group of processes (the
 * Ferry nodes, PostgreSQL, sshd, this script with the sftp clients it starts),
 * from /proc. A group's time is user + system time of its living processes plus
 * what their finished children left in cutime/cstime, so per-connection sshd
 * processes and finished sftp clients count too.
 */
import fs from 'node:fs';
import os from 'node:os';
import { processTree } from '../../test/harness/process-tree.js';

const TICKS_PER_SECOND = 100;

function processTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14 ... cstime 17.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
  } catch {
    return 0;
  }
}

/** Every process of the trees under these roots. */
export function trees(roots: number[]): number[] {
  return roots.flatMap((root) => processTree(root));
}

/** Busy ticks of the whole machine (every core), from /proc/stat. */
function machineTicks(): number {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: everything but idle and iowait.
    return cpu[0]! + cpu[1]! + cpu[2]! + cpu[5]! + cpu[6]! + cpu[7]!;
  } catch {
    return NaN;
  }
}

/** Group name -> the processes to count (their own time and their finished children's). */
export type Groups = Record<string, () => number[]>;

export interface CpuSample {
  at: number;
  groups: Record<string, number>;
  machine: number;
}

export function cpuSample(groups: Groups): CpuSample {
  return {
    at: performance.now(),
    groups: Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, pids().reduce((sum, pid) => sum + processTicks(pid), 0)])),
    machine: machineTicks(),
  };
}

export interface CpuDelta {
  /** Wall-clock seconds between the samples. */
  wall: number;
  /** CPU seconds per group, then 'everything else' (the rest of the machine). */
  seconds: Record<string, number>;
}

export function cpuDelta(before: CpuSample, after: CpuSample): CpuDelta {
  const seconds: Record<string, number> = {};
  let ours = 0;
  for (const name of Object.keys(after.groups)) {
    const sec = Math.max(0, (after.groups[name]! - (before.groups[name] ?? 0)) / TICKS_PER_SECOND);
    ours += sec;
    seconds[name] = sec;
  }
  const machine = (after.machine - before.machine) / TICKS_PER_SECOND;
  if (Number.isFinite(machine)) seconds['everything else'] = Math.max(0, machine - ours);
  return { wall: (after.at - before.at) / 1000, seconds };
}

/** "CPU: ferry nodes 3.10 s, postgres 2.00 s, ..., everything else 1.20 s (of 2 x 5.00 s)". */
export function cpuLine(d: CpuDelta): string {
  const parts = Object.entries(d.seconds).map(([name, sec]) => `${name} ${sec.toFixed(2)} s`);
  return `CPU: ${parts.join(', ')} (of ${os.availableParallelism()} cores x ${d.wall.toFixed(2)} s)`;
}
