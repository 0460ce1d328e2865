/** Active-active Ferry nodes on one PostgreSQL and one shared storage directory, started and stopped as the benchmark needs. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { runCli } from '../cluster/cli.js';
import { startBenchNode, type BenchNode } from '../cluster/node-process.js';
import { readyCode } from '../cluster/probes.js';
import { sleep, type Teardown } from '../cluster/teardown.js';
import { FERRY_MAIN, ferryEnv, type FerryEnv } from '../../test/harness/ferry.js';
import { freePort } from '../../test/harness/ports.js';

const NODE_START_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 30_000;

export interface BenchCluster {
  names: string[];
  /** The env of node 0, for CLI commands. */
  env: FerryEnv;
  /** Starts node i (if stopped) with this queue concurrency; waits for /health/ready 200. */
  start(i: number, concurrency: number): Promise<BenchNode>;
  /** Graceful stop (SIGTERM) of node i. */
  stop(i: number): Promise<void>;
  stopAll(): Promise<void>;
  running(): string[];
  /** The supervisors of the running nodes (their workers are their children). */
  pids(): number[];
  cli(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
}

export function benchCluster(teardown: Teardown, root: string, databaseUrl: string, storageDir: string, count: number): BenchCluster {
  const names = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const nodes: Array<BenchNode | undefined> = names.map(() => undefined);
  const envOf = (i: number, concurrency: number): FerryEnv => ({
    dataDir: path.join(root, names[i]!),
    databaseUrl,
    storageDir,
    extra: {
      FERRY_NODE_NAME: names[i]!,
      FERRY_CLUSTER_MODE: 'active-active',
      FERRY_QUEUE_CONCURRENCY: String(concurrency),
      // The queue runs in the supervisor; one SFTP worker is plenty for a node no client uses.
      FERRY_NODE_WORKERS: '1',
    },
  });
  teardown.add('stop the Ferry nodes', async () => {
    await Promise.all(nodes.map((n) => n?.kill('SIGKILL')));
  });

  const waitReady = async (node: BenchNode) => {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    let last = 0;
    while (performance.now() < deadline) {
      teardown.check();
      last = (await readyCode(node.adminPort)).code;
      if (last === 200) return;
      if (!node.alive()) throw new Error(`node ${node.name} exited while starting`);
      await sleep(100, teardown.signal);
    }
    throw new Error(`node ${node.name} not ready within ${READY_TIMEOUT_MS / 1000} s (last /health/ready ${last})`);
  };

  const cluster: BenchCluster = {
    names,
    env: envOf(0, 4),
    async start(i, concurrency) {
      const existing = nodes[i];
      if (existing?.alive()) return existing;
      const env = envOf(i, concurrency);
      const start = async () =>
        startBenchNode(
          teardown,
          names[i]!,
          env,
          { sftpPort: await freePort(), adminPort: await freePort() },
          { workers: 1, readyTimeoutMs: NODE_START_TIMEOUT_MS },
        );
      let node: BenchNode;
      try {
        node = await start();
      } catch (err) {
        teardown.check();
        // A port taken meanwhile by something else: once more on fresh ports.
        console.log(`  (${names[i]} did not start: ${(err as Error).message.split('\n')[0]}; retrying on fresh ports)`);
        node = await start();
      }
      nodes[i] = node;
      await waitReady(node);
      return node;
    },
    async stop(i) {
      await nodes[i]?.stop(15_000);
      nodes[i] = undefined;
    },
    async stopAll() {
      await Promise.all(nodes.map((_, i) => cluster.stop(i)));
    },
    running: () => names.filter((_, i) => nodes[i]?.alive()),
    pids: () => nodes.filter((n) => n?.alive()).map((n) => n!.process.pid!),
    cli: (args, input) => (input === undefined ? runCli(args, cluster.env) : runCliWithInput(args, cluster.env, input)),
  };
  return cluster;
}

/** runCli with standard input (for --password-stdin). */
function runCliWithInput(args: string[], env: FerryEnv, input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FERRY_MAIN, ...args], { env: ferryEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', (err) => (clearTimeout(timer), reject(err)));
    child.on('close', (code) => (clearTimeout(timer), resolve({ code: code ?? -1, stdout, stderr })));
    child.stdin.end(input);
  });
}
