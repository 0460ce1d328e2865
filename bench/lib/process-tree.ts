/** Process trees from /proc: who belongs to a server, how much memory they hold, and stopping them. */
import fs from 'node:fs';

/** No server here has anywhere near this many processes; it only bounds the walk. */
const MAX_TREE_SIZE = 5_000;

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Children of one process, over all its threads (a child belongs to the thread that forked it). */
function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tasks.flatMap((tid) =>
    readOrEmpty(`/proc/${pid}/task/${tid}/children`)
      .split(' ')
      .filter((s) => s.trim() !== '')
      .map(Number),
  );
}

/** The process and all its living descendants. */
export function processTree(root: number): number[] {
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0 && tree.length < MAX_TREE_SIZE) {
    const pid = queue.shift()!;
    if (!fs.existsSync(`/proc/${pid}`)) continue;
    tree.push(pid);
    queue.push(...childrenOf(pid));
  }
  return tree;
}

export interface Memory {
  /** Sum of VmRSS, KiB (shared pages counted once per process). */
  rssKiB: number;
  /** Sum of RssAnon, KiB: private heap and stacks, closer to what each process adds. */
  anonKiB: number;
}

function statusField(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : 0;
}

export function treeMemory(root: number): Memory {
  const total: Memory = { rssKiB: 0, anonKiB: 0 };
  for (const pid of processTree(root)) {
    const status = readOrEmpty(`/proc/${pid}/status`);
    total.rssKiB += statusField(status, 'VmRSS');
    total.anonKiB += statusField(status, 'RssAnon');
  }
  return total;
}

/** Samples the summed memory of a process tree every intervalMs until stop(); keeps the peaks. */
export class MemorySampler {
  private peak: Memory = { rssKiB: 0, anonKiB: 0 };
  private samples = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly root: number,
    intervalMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const now = treeMemory(this.root);
    this.peak = { rssKiB: Math.max(this.peak.rssKiB, now.rssKiB), anonKiB: Math.max(this.peak.anonKiB, now.anonKiB) };
    this.samples++;
  }

  private stopped = false;

  /** Stops sampling (once; later calls change nothing); the peaks in MiB. */
  stop(): { rssMiB: number; anonMiB: number; samples: number } {
    if (!this.stopped) {
      clearInterval(this.timer);
      this.sample();
      this.stopped = true;
    }
    return { rssMiB: this.peak.rssKiB / 1024, anonMiB: this.peak.anonKiB / 1024, samples: this.samples };
  }
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

/**
 * Processes whose environment holds NAME=value exactly. With a value unique to this
 * run (its temporary directory) it finds the server processes this run started,
 * e.g. a node whose start timed out before we learnt its pid.
 */
export function processesWithEnv(name: string, value: string): number[] {
  const wanted = `${name}=${value}`;
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== process.pid && readOrEmpty(`/proc/${pid}/environ`).split('\0').includes(wanted));
}
