import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The HAProxy configuration we ship; tests run this very file. */
export const SHIPPED_HAPROXY_CFG = fileURLToPath(new URL('../../../deploy/haproxy/haproxy.cfg', import.meta.url));

/** Debian's haproxy (.ci/run installs it), or one on PATH. */
export function haproxyBinary(): string {
  if (fs.existsSync('/usr/sbin/haproxy')) return '/usr/sbin/haproxy';
  const found = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error('haproxy is not installed (apt-get install haproxy; .ci/run does it)');
  return found;
}

/** FERRY_LB_* for the shipped file: its own runtime socket, and it runs as the user running the tests. */
export function haproxyEnv(dir: string, vars: Record<string, string>): NodeJS.ProcessEnv {
  const user = os.userInfo();
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
  return {
    ...process.env,
    FERRY_LB_STATS_SOCKET: path.join(dir, 'haproxy.sock'),
    FERRY_LB_LOG: 'stdout',
    FERRY_LB_USER: user.username,
    FERRY_LB_GROUP: group,
    ...vars,
  };
}

/** `haproxy -c`: whether the configuration is valid with this environment. */
export function checkHaproxyConfig(cfg: string, env: NodeJS.ProcessEnv): { code: number; output: string } {
  const r = spawnSync(haproxyBinary(), ['-c', '-f', cfg], { env, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status ?? -1, output: r.stdout + r.stderr };
}

export interface RunningHaproxy {
  process: ChildProcess;
  /** Everything it wrote (its log lines go to stdout). */
  output(): string;
  stop(): Promise<void>;
}

/** Runs haproxy in the foreground (-db), not as a service. */
export function startHaproxy(cfg: string, env: NodeJS.ProcessEnv, logFile: string): RunningHaproxy {
  const child = spawn(haproxyBinary(), ['-db', '-f', cfg], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => {
    output += d.toString();
    fs.appendFileSync(logFile, d);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface ServerState {
  /** UP, DOWN, "DOWN 1/2" while rising, "UP 1/3" while falling, ... */
  status: string;
  /** The last health check: L7OK (the edge's /health said 200), L7STS (another status), L4CON (refused), ... */
  check: string;
  sessionsTotal: number;
}

/** The servers of one backend, by name, from the stats page's CSV. */
export async function backendServers(statsPort: number, backend: string): Promise<Record<string, ServerState>> {
  const res = await fetch(`http://127.0.0.1:${statsPort}/;csv`, { signal: AbortSignal.timeout(2_000) });
  const [header, ...rows] = (await res.text()).trim().split('\n');
  const columns = header!.replace(/^# /, '').split(',');
  const at = (name: string) => columns.indexOf(name);
  const servers: Record<string, ServerState> = {};
  for (const row of rows.map((r) => r.split(','))) {
    const server = row[at('svname')]!;
    if (row[at('pxname')] !== backend || server === 'BACKEND' || server === 'FRONTEND') continue;
    servers[server] = { status: row[at('status')]!, check: row[at('check_status')]!, sessionsTotal: Number(row[at('stot')]) };
  }
  return servers;
}
