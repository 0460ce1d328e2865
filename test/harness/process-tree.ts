/** Process trees from /proc: who belongs to a server, how much memory they hold, and stopping them. */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

/** No server here has anywhere near this many processes; it only bounds the walk. */
const MAX_TREE_SIZE = 5_000;

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Children of one process. The kernel lists a child under the thread that forked
 * it; both servers fork from their main thread (sshd has no other, Node spawns
 * from its event-loop thread), so only that thread's list is read: with the 400
 * processes of sshd in the many-sessions scenario, sampling cost matters.
 */
function childrenOf(pid: number): number[] {
  return readOrEmpty(`/proc/${pid}/task/${pid}/children`)
    .split(' ')
    .filter((s) => s.trim() !== '')
    .map(Number);
}

/** The process and all its living descendants. */
export function processTree(root: number): number[] {
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0 && tree.length < MAX_TREE_SIZE) {
    const pid = queue.shift()!;
    tree.push(pid);
    queue.push(...childrenOf(pid));
  }
  // The root itself may be gone; its children would then be listed nowhere.
  return fs.existsSync(`/proc/${root}`) ? tree : [];
}

export interface Memory {
  /** Sum of VmRSS, KiB: shared pages count once per process that maps them. */
  rssKiB: number;
  /** Sum of Pss, KiB: each shared page split between the processes sharing it. */
  pssKiB: number;
}

function fieldKiB(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

/**
 * VmRSS (/proc/PID/status) and Pss (/proc/PID/smaps_rollup) summed over the tree.
 * VmRSS alone overstates sshd, whose forked per-connection processes share most of
 * their pages; Pss sums to what the tree really holds.
 */
export function treeMemory(root: number): Memory {
  const total: Memory = { rssKiB: 0, pssKiB: 0 };
  for (const pid of processTree(root)) {
    total.rssKiB += fieldKiB(readOrEmpty(`/proc/${pid}/status`), 'VmRSS');
    total.pssKiB += fieldKiB(readOrEmpty(`/proc/${pid}/smaps_rollup`), 'Pss');
  }
  return total;
}

/**
 * Samples the summed memory of a process tree every intervalMs until stop(), and
 * keeps the peaks. A large tree (sshd: two processes per connection) costs ~80 µs
 * per process to read, so the pause between samples is stretched to 20 times the
 * cost of the last one: sampling never takes more than 5% of a core from the run.
 */
export class MemorySampler {
  private peak: Memory = { rssKiB: 0, pssKiB: 0 };
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly root: number,
    private readonly intervalMs = 100,
  ) {
    this.sampleAndReschedule();
  }

  private sample(): void {
    const now = treeMemory(this.root);
    this.peak = { rssKiB: Math.max(this.peak.rssKiB, now.rssKiB), pssKiB: Math.max(this.peak.pssKiB, now.pssKiB) };
    this.samples++;
  }

  private sampleAndReschedule(): void {
    const start = performance.now();
    this.sample();
    const cost = performance.now() - start;
    this.timer = setTimeout(() => this.sampleAndReschedule(), Math.max(this.intervalMs, 20 * cost));
  }

  /** Stops sampling (once; later calls change nothing); the peaks in MiB. */
  stop(): { rssMiB: number; pssMiB: number; samples: number } {
    if (!this.stopped) {
      this.stopped = true;
      clearTimeout(this.timer);
      this.sample();
    }
    return { rssMiB: this.peak.rssKiB / 1024, pssMiB: this.peak.pssKiB / 1024, samples: this.samples };
  }
}

/** SIGKILL to every process this one started, and theirs: servers, clients, all. */
export function killDescendants(): void {
  for (const child of childrenOf(process.pid)) signalTree(child, 'SIGKILL');
}

/** Sends a signal to every process of the tree (ignoring those already gone). */
export function signalTree(root: number, signal: NodeJS.Signals): void {
  for (const pid of processTree(root)) {
    try {
      process.kill(pid, signal);
    } catch {}
  }
}

function isAlive(pid: number): boolean {
  // A zombie still takes signal 0; its state in /proc/PID/stat is 'Z'.
  const stat = readOrEmpty(`/proc/${pid}/stat`);
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/**
 * SIGTERM to every process of the tree, then SIGKILL to those still there after
 * graceMs. The tree is taken first: children that outlive their parent are
 * re-parented and could no longer be found from the root.
 */
export async function terminateTree(root: number, graceMs: number): Promise<void> {
  const pids = processTree(root);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pids.some(isAlive)) await new Promise((r) => setTimeout(r, 50));
  for (const pid of pids.filter(isAlive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

/** This process's children whose command line has `arg` as one of its arguments. */
export function childrenRunning(arg: string): number[] {
  return childrenOf(process.pid).filter((pid) => readOrEmpty(`/proc/${pid}/cmdline`).split('\0').includes(arg));
}
