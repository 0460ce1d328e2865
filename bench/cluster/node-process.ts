import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { FERRY_MAIN, ferryEnv, type FerryEnv } from '../../test/harness/ferry.js';
import { readyCode } from './probes.js';
import type { Teardown } from './teardown.js';

/**
 * One `ferry start` process group, as test/harness/ferry.ts startNode starts it
 * (detached, loopback listeners, JSON logs to <data dir>/node-output.log), but
 * registered with the teardown the moment it is spawned, so a node that never
 * gets ready is still killed. Log lines are kept only when they matter here.
 */
export interface BenchNode {
  name: string;
  process: ChildProcess;
  sftpPort: number;
  adminPort: number;
  /** Log lines whose msg is in KEPT_MESSAGES, with their time (epoch ms). */
  events: Array<{ msg: string; at: number; line: Record<string, any> }>;
  exited: Promise<number | null>;
  ready(): Promise<{ code: number; body: any }>;
  /** SIGKILL (or another signal) to the whole process group; for SIGKILL, waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** SIGTERM to the supervisor (graceful shutdown), SIGKILL to the group after graceMs. */
  stop(graceMs?: number): Promise<void>;
  alive(): boolean;
}

const KEPT_MESSAGES = new Set([
  'node ready',
  'became primary',
  'stepped down as primary',
  'accepting client sessions',
  'node status',
  'cannot listen for SFTP',
]);

export async function startBenchNode(
  teardown: Teardown,
  name: string,
  env: FerryEnv,
  ports: { sftpPort: number; adminPort: number },
  options: { workers?: number; readyTimeoutMs?: number } = {},
): Promise<BenchNode> {
  fs.mkdirSync(env.dataDir, { recursive: true });
  const child = spawn(process.execPath, [FERRY_MAIN, 'start'], {
    env: ferryEnv({
      ...env,
      extra: {
        FERRY_SFTP_PORT: String(ports.sftpPort),
        FERRY_SFTP_HOST: '127.0.0.1',
        FERRY_ADMIN_PORT: String(ports.adminPort),
        FERRY_ADMIN_HOST: '127.0.0.1',
        FERRY_NODE_WORKERS: String(options.workers ?? 0),
        ...env.extra,
      },
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killGroup = (signal: NodeJS.Signals) => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {}
  };
  const forget = teardown.addLastResort(() => killGroup('SIGKILL'));
  void exited.then(() => {
    // The workers die with the supervisor's group kill; a stray one is killed with the group anyway.
    killGroup('SIGKILL');
    forget();
  });

  const logFile = path.join(env.dataDir, 'node-output.log');
  const out = fs.createWriteStream(logFile, { flags: 'a' });
  const events: BenchNode['events'] = [];
  let pending = '';
  let readyResolve: (() => void) | undefined;
  const readySeen = new Promise<void>((resolve) => (readyResolve = resolve));
  const onOutput = (chunk: Buffer) => {
    out.write(chunk);
    pending += chunk.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const text = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      // Cheap filter first: most lines are per-transfer logs nobody here needs.
      if (!text.includes('"msg":"node ') && !text.includes('primary') && !text.includes('accepting') && !text.includes('cannot listen')) continue;
      let line: Record<string, any>;
      try {
        line = JSON.parse(text);
      } catch {
        continue;
      }
      if (!KEPT_MESSAGES.has(line.msg)) continue;
      events.push({ msg: line.msg, at: Date.parse(line.time) || Date.now(), line });
      if (line.msg === 'node ready') readyResolve?.();
    }
  };
  child.stdout!.on('data', onOutput);
  child.stderr!.on('data', onOutput);
  void exited.then(() => out.end());

  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      readySeen,
      exited.then((code) => {
        throw new Error(`node ${name}: ferry start exited with ${code}; see ${logFile}`);
      }),
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`node ${name}: no "node ready" within ${timeoutMs} ms; see ${logFile}`)), timeoutMs)),
      ),
      new Promise<never>((_, reject) => {
        onAbort = () => reject(teardown.signal.reason);
        if (teardown.signal.aborted) onAbort();
        else teardown.signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } catch (err) {
    killGroup('SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    throw err;
  } finally {
    clearTimeout(timer);
    if (onAbort) teardown.signal.removeEventListener('abort', onAbort);
  }

  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    process: child,
    sftpPort: ports.sftpPort,
    adminPort: ports.adminPort,
    events,
    exited,
    alive,
    ready: () => readyCode(ports.adminPort),
    async kill(signal) {
      killGroup(signal);
      if (signal === 'SIGKILL') await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    },
    async stop(graceMs = 15_000) {
      if (!alive()) return;
      child.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs))]);
      if (!done) {
        killGroup('SIGKILL');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      }
    },
  };
}
