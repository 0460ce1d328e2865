/**
 * Benchmark: Ferry against OpenSSH's own SFTP server (a private sshd), both driven
 * by the same OpenSSH sftp client over loopback, with every file on /dev/shm.
 * See USAGE in lib/options.ts; `npm run bench` builds and runs all scenarios.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sshKeygen } from '../test/harness/openssh.js';
import { Cleanup } from './lib/cleanup.js';
import { ferryMainOf, startFerry } from './lib/ferry-server.js';
import { startSshd } from '../test/harness/sshd.js';
import { formatSize, parseOptions, USAGE, UsageError, type Options } from './lib/options.js';
import { killDescendants } from '../test/harness/process-tree.js';
import { summary } from './lib/report.js';
import { runScenario, type ScenarioResult } from './lib/runner.js';
import { buildScenario } from './lib/scenarios.js';
import { checkLogin, type Target } from './lib/target.js';

const SHM = '/dev/shm';
const ACCOUNT = 'bench';

function header(options: Options, ferryWorkers: number): string {
  const s = options.sizes;
  const sshVersion = spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr ?? '';
  return [
    `Ferry vs OpenSSH sftp-server: ${new Date().toISOString()}`,
    `command: node ${path.relative(process.cwd(), process.argv[1]!)} ${process.argv.slice(2).join(' ')}`.trimEnd(),
    `machine: ${os.availableParallelism()} cores, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, Node ${process.version}, ${sshVersion.trim()}`,
    `Ferry: ${ferryWorkers} workers (one per core); OpenSSH: sshd with internal-sftp${options.base ? `; base: the Ferry built in ${options.base}, as many workers` : ''}`,
    `client: OpenSSH sftp -b, aes128-gcm@openssh.com, curve25519-sha256; ${options.runs} runs per scenario and server, alternating, after ${warmupText(options, ferryWorkers)}`,
    `sizes: ${formatSize(s.bigFile)} file; ${s.smallFiles} x ${formatSize(s.smallFileSize)}; ${s.parallelSessions} x ${formatSize(s.parallelFileSize)}; ${s.manySessions} x ${formatSize(s.manyFileSize)}${options.quick ? ' (--quick)' : ''}`,
  ].join('\n');
}

function warmupText(options: Options, ferryWorkers: number): string {
  if (options.warmup !== undefined) return `${options.warmup} warm-up runs each`;
  return (
    options.scenarios
      .map((name) => `${buildScenario(name, options.sizes).warmupPerWorker * ferryWorkers} warm-up runs for ${name}`)
      .filter((text) => !text.startsWith('0 '))
      .join(', ') || 'no warm-up runs'
  );
}

interface Servers {
  targets: Target[];
  ferryWorkers: number;
  /** What each server logged: looked at after the runs. */
  logs: { ferry: string; sshd: string };
}

/** Starts both servers, each stopped by the clean-up whatever happens next. */
async function startServers(dir: string, cleanup: Cleanup, base: string | undefined): Promise<Servers> {
  const clientDir = path.join(dir, 'client');
  fs.mkdirSync(clientDir);
  const clientKey = sshKeygen(clientDir);

  const sshdDir = path.join(dir, 'openssh');
  fs.mkdirSync(sshdDir);
  const sshd = await startSshd(sshdDir, clientKey + '.pub');
  cleanup.add('stop sshd', sshd.stop);
  console.error(`OpenSSH sshd (pid ${sshd.pid}) on 127.0.0.1:${sshd.port}, files in ${sshd.filesDir}`);

  const ferry = await startFerry(path.join(dir, 'ferry'), ACCOUNT, clientKey + '.pub');
  cleanup.add('stop ferry', ferry.stop);
  console.error(`Ferry node (pid ${ferry.pid}, ${ferry.workers} workers) on 127.0.0.1:${ferry.port}, files in ${ferry.homeDir}`);

  const login = { keyFile: clientKey, dir: clientDir };
  const targets: Target[] = [
    { name: 'OpenSSH', login: { ...login, port: sshd.port, user: os.userInfo().username }, root: sshd.filesDir, pid: sshd.pid },
    { name: 'Ferry', login: { ...login, port: ferry.port, user: ACCOUNT }, root: ferry.homeDir, pid: ferry.pid },
  ];
  if (base) {
    const main = ferryMainOf(base);
    const baseFerry = await startFerry(path.join(dir, 'base'), ACCOUNT, clientKey + '.pub', main);
    cleanup.add('stop the base ferry', baseFerry.stop);
    console.error(`base Ferry (${main}, pid ${baseFerry.pid}) on 127.0.0.1:${baseFerry.port}, files in ${baseFerry.homeDir}`);
    targets.push({ name: 'base', login: { ...login, port: baseFerry.port, user: ACCOUNT }, root: baseFerry.homeDir, pid: baseFerry.pid });
  }
  for (const target of targets) await checkLogin(target);
  return { targets, ferryWorkers: ferry.workers, logs: { ferry: ferry.logFile, sshd: sshd.logFile } };
}

/**
 * Problems the servers reported during the runs: Ferry's log lines at warn level
 * or above (pino levels: 40 warn, 50 error, 60 fatal), and whatever sshd printed
 * at LogLevel ERROR.
 */
function serverComplaints(logs: Servers['logs'], max = 10): string[] {
  const ferry = fs
    .readFileSync(logs.ferry, 'utf8')
    .split('\n')
    .filter((line) => {
      try {
        return JSON.parse(line).level >= 40;
      } catch {
        return line.trim() !== '';
      }
    });
  const sshd = fs
    .readFileSync(logs.sshd, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
  const report = (name: string, lines: string[]) =>
    lines.length === 0 ? [] : [`${name} logged ${lines.length} warnings or errors; the first ones:`, ...lines.slice(0, max).map((l) => '  ' + l.slice(0, 300))];
  return [...report('Ferry', ferry), ...report('sshd', sshd)];
}

async function main(options: Options): Promise<number> {
  const cleanup = new Cleanup();
  cleanup.install(options.maxMinutes);
  // Whatever is still running when the run is aborted or exits: only processes this one started.
  cleanup.addLastResort(killDescendants);
  const dir = fs.mkdtempSync(path.join(SHM, 'ferry-bench-'));
  cleanup.add('remove the temporary directory', () => {
    if (options.keep) console.error(`kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  });
  try {
    const { targets, ferryWorkers, logs } = await startServers(dir, cleanup, options.base);
    console.log(header(options, ferryWorkers));
    const results: ScenarioResult[] = [];
    for (const name of options.scenarios) {
      if (cleanup.signal.aborted) break;
      const scenario = buildScenario(name, options.sizes);
      const warmup = options.warmup ?? scenario.warmupPerWorker * ferryWorkers;
      results.push(await runScenario(scenario, path.join(dir, 'sources'), targets, options.runs, warmup, cleanup.signal));
    }
    console.log(
      '\n' +
        summary(
          results,
          targets.some((t) => t.name === 'base'),
        ),
    );
    const complaints = serverComplaints(logs);
    if (complaints.length > 0) console.log('\n' + complaints.join('\n'));
    return results.some((r) => r.errors.size > 0) ? 1 : 0;
  } finally {
    await cleanup.runAll();
  }
}

let options: Options | 'help';
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (options === 'help') {
  console.log(USAGE);
  process.exit(0);
}
main(options).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`benchmark failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
