import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchAdmin } from './admin.js';
import { freePort } from './ports.js';

/** The shipped command (the bundle in dist/cli), the one `npm install` puts on the PATH. */
export const FERRY_MAIN = fileURLToPath(new URL('../../cli/ferry.js', import.meta.url));

export interface FerryEnv {
  dataDir: string;
  databaseUrl: string;
  storageDir?: string;
  extra?: Record<string, string>;
}

export function ferryEnv(env: FerryEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {
    ...process.env,
    FERRY_DATA_DIR: env.dataDir,
    FERRY_DATABASE_URL: env.databaseUrl,
    FERRY_LOG_LEVEL: 'info',
    ...env.extra,
  };
  if (env.storageDir) out.FERRY_STORAGE_DIR = env.storageDir;
  return out;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one `ferry` command as a user would, with optional standard input. */
export function runFerry(args: string[], env: FerryEnv, input?: string, main = FERRY_MAIN): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { env: ferryEnv(env), stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** Runs one `ferry` command that must succeed; returns its standard output. */
export async function ferryOk(env: FerryEnv, args: string[], input?: string): Promise<string> {
  const r = await runFerry(args, env, input);
  if (r.code !== 0) throw new Error(`ferry ${args.join(' ')} exited with ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export interface RunningNode {
  process: ChildProcess;
  sftpPort: number;
  adminPort: number;
  /** GET /health/ready: the HTTP status code and body. */
  ready(): Promise<{ code: number; body: any }>;
  /** Every JSON log line so far. */
  logs: Array<Record<string, any>>;
  /** Resolves with the first log line matching, within timeoutMs. */
  waitForLog(match: (line: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<void>;
  exited: Promise<number | null>;
}

/** Starts `ferry start` and waits until it logs "node ready". */
export async function startNode(
  env: FerryEnv,
  options: {
    workers?: number;
    sftpPort?: number;
    adminPort?: number;
    waitFor?: 'ready' | 'started';
    command?: 'start' | 'edge';
    cwd?: string;
    /** More arguments, e.g. --config FILE. */
    args?: string[];
    /** Another build's command (a benchmark's base commit); default this checkout's. */
    main?: string;
  } = {},
): Promise<RunningNode> {
  const sftpPort = options.sftpPort ?? (await freePort());
  const adminPort = options.adminPort ?? (await freePort());
  const command = options.command ?? 'start';
  const child = spawn(process.execPath, [options.main ?? FERRY_MAIN, command, ...(options.args ?? [])], {
    cwd: options.cwd,
    env: ferryEnv({
      ...env,
      extra: {
        FERRY_SFTP_PORT: String(sftpPort),
        FERRY_SFTP_HOST: '127.0.0.1',
        FERRY_ADMIN_PORT: String(adminPort),
        FERRY_ADMIN_HOST: '127.0.0.1',
        FERRY_NODE_WORKERS: String(options.workers ?? 1),
        ...env.extra,
      },
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const logs: Array<Record<string, any>> = [];
  const waiters: Array<{ match: (l: Record<string, any>) => boolean; resolve: (l: Record<string, any>) => void }> = [];
  let pending = '';
  const logFile = path.join(env.dataDir, 'node-output.log');
  fs.mkdirSync(env.dataDir, { recursive: true });
  const onOutput = (chunk: Buffer) => {
    fs.appendFileSync(logFile, chunk);
    pending += chunk.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let parsed: Record<string, any>;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = { msg: line, raw: true };
      }
      logs.push(parsed);
      for (const w of [...waiters]) {
        if (w.match(parsed)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(parsed);
        }
      }
    }
  };
  child.stdout!.on('data', onOutput);
  child.stderr!.on('data', onOutput);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const tail = () =>
    logs
      .slice(-15)
      .map((l) => (l.raw ? l.msg : JSON.stringify(l)).slice(0, 400))
      .join('\n');
  const waitForLog = (match: (l: Record<string, any>) => boolean, timeoutMs = 20_000) => {
    const found = logs.find(match);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, any>>((resolve, reject) => {
      // The tail of the output goes into the error: the test's clean-up may remove the file.
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a log line; see ${logFile}; its last lines:\n${tail()}`)), timeoutMs);
      waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  };
  await Promise.race([
    // 'started': the admin port answers (a node waiting for its database is not ready yet).
    waitForLog((l) => l.msg === (command === 'edge' ? 'edge ready' : options.waitFor === 'started' ? 'admin port up' : 'node ready')),
    exited.then((code) => {
      throw new Error(`ferry start exited with ${code}: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
    }),
  ]);
  return {
    process: child,
    sftpPort,
    adminPort,
    async ready() {
      const res = await fetchAdmin(adminPort, '/health/ready');
      return { code: res.status, body: JSON.parse(res.text) };
    },
    logs,
    waitForLog,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await exited;
      // Evidence for the test that fails on it: the test's clean-up may remove the log file.
      if (code !== 0) console.error(`ferry exited with ${code} on SIGTERM (${logFile}); its last lines:\n${tail()}`);
      return code;
    },
    async kill(signal) {
      // The whole process group: the supervisor and its workers die together, as with a machine loss.
      try {
        process.kill(-child.pid!, signal);
      } catch {}
      if (signal === 'SIGKILL') await exited;
    },
  };
}
