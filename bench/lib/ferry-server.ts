/** A Ferry node with one worker per core, data and storage in the given directory, and one account. */
import fs from 'node:fs';
import path from 'node:path';
import { FERRY_MAIN, runFerry, startNode, type FerryEnv, type RunningNode } from '../../test/harness/ferry.js';
import { childrenRunning, terminateTree } from '../../test/harness/process-tree.js';

export interface FerryServer {
  /** The supervisor; its workers are its children. */
  pid: number;
  port: number;
  workers: number;
  /** The account's home, which it sees as '/'. */
  homeDir: string;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * The `ferry` command of another checkout's build (`--base DIR`): the bundle, or for
 * commits before it, the compiled CLI.
 */
export function ferryMainOf(checkout: string): string {
  const candidates = [path.join(checkout, 'dist', 'cli', 'ferry.js'), path.join(checkout, 'dist', 'src', 'cli', 'main.js')];
  const found = candidates.find((file) => fs.existsSync(file));
  if (!found) throw new Error(`no built Ferry in ${checkout}: run npm ci and npm run build there (looked for ${candidates.join(', ')})`);
  return found;
}

export async function startFerry(dir: string, account: string, clientPublicKey: string, main = FERRY_MAIN): Promise<FerryServer> {
  const dataDir = path.join(dir, 'data');
  const storageDir = path.join(dir, 'files');
  const env: FerryEnv = {
    dataDir,
    databaseUrl: `sqlite:${path.join(dataDir, 'ferry.db')}`,
    storageDir,
    // Open transfers at the end are the benchmark's own, cut short: no need for the 30 s grace.
    extra: { FERRY_SHUTDOWN_GRACE: '2s' },
  };
  fs.mkdirSync(dataDir, { recursive: true });
  const added = await runFerry(['account', 'add', account, '--key', clientPublicKey], env, undefined, main);
  if (added.code !== 0) throw new Error(`ferry account add ${account} failed (${added.code}): ${added.stderr || added.stdout}`);

  let node: RunningNode;
  try {
    node = await startNode(env, { workers: 0, main });
  } catch (err) {
    // startNode gives no handle when it times out; the node is our child.
    for (const pid of childrenRunning(main)) await terminateTree(pid, 2_000);
    throw err;
  }
  const ready = await node.waitForLog((l) => l.msg === 'node ready');
  const pid = node.process.pid!;
  const homeDir = path.join(storageDir, account);
  // Ferry creates it at the first login; the download scenario puts its file there before that.
  fs.mkdirSync(homeDir, { recursive: true });
  return {
    pid,
    port: node.sftpPort,
    workers: Number(ready.workers),
    homeDir,
    logFile: path.join(dataDir, 'node-output.log'),
    // SIGTERM reaches the supervisor and its workers; each finishes its sessions within the grace.
    stop: () => terminateTree(pid, 10_000),
  };
}
