/**
 * Edge gateway benchmark (issue 6): a 1 GiB upload and the connection setup time
 * through an edge vs directly to the node, as ratios in one run, and the edge's
 * CPU seconds per GiB relayed (from /proc).
 *
 *   npm run build && node dist/bench/edge.js [--size MiB] [--rounds N]
 *
 * One node (SQLite, storage and the source file on /dev/shm when there is room)
 * and one edge on loopback, tunnel certificates from `ferry pki`; the OpenSSH
 * `sftp` client with aes128-gcm, direct and through the edge alternating. Goals on
 * this machine (client, edge and node share 2 cores): >= 0.8x direct throughput,
 * <= 1.5 CPU-seconds per GiB on the edge. Prints figures; exits 0 unless it
 * could not measure.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ferryOk, startNode, type FerryEnv, type RunningNode } from '../test/harness/ferry.js';
import { writeRandomFile } from '../test/harness/files.js';
import { sftpBatch, sshKeygen, type Login } from '../test/harness/openssh.js';
import { freePort } from '../test/harness/ports.js';
import { cpuDelta, cpuSample, trees, type CpuDelta, type Groups } from './lib/process-cpu.js';

const MiB = 1024 * 1024;
const CIPHER = ['-o', 'Ciphers=aes128-gcm@openssh.com'];

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number`);
  return value;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timed(login: Login, commands: string[]): Promise<number> {
  const started = performance.now();
  const r = await sftpBatch(login, commands, CIPHER, 600_000);
  if (r.code !== 0) throw new Error(`sftp ${commands.join('; ')} failed: ${r.stderr}`);
  return (performance.now() - started) / 1000;
}

/** One upload, timed, with the CPU seconds each group of processes spent on it. */
async function upload(login: Login, commands: string[], groups: Groups): Promise<{ seconds: number; cpu: CpuDelta }> {
  const before = cpuSample(groups);
  const seconds = await timed(login, commands);
  return { seconds, cpu: cpuDelta(before, cpuSample(groups)) };
}

const perGiB = (cpu: CpuDelta, group: string, gib: number) => (cpu.seconds[group] ?? 0) / gib;

async function main(): Promise<void> {
  const sizeMiB = option('--size', 1024);
  const rounds = option('--rounds', 3);
  const shm = fs.existsSync('/dev/shm') && fs.statfsSync('/dev/shm').bavail * fs.statfsSync('/dev/shm').bsize > 3 * sizeMiB * MiB;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-edge-'));
  const files = shm ? fs.mkdtempSync('/dev/shm/ferry-bench-edge-') : path.join(dir, 'files');
  fs.mkdirSync(files, { recursive: true });
  const running: RunningNode[] = [];
  try {
    const pki = path.join(dir, 'pki');
    const cliEnv: FerryEnv = { dataDir: path.join(dir, 'cli'), databaseUrl: 'sqlite:/nonexistent/never-opened.db' };
    await ferryOk(cliEnv, ['pki', 'init', pki]);
    await ferryOk(cliEnv, ['pki', 'issue', 'edge', 'edge1', '--dir', pki, '--host', '127.0.0.1']);
    await ferryOk(cliEnv, ['pki', 'issue', 'node', 'n1', '--dir', pki]);
    const tls = (name: string) => ({
      FERRY_TLS_CA: path.join(pki, 'ca.crt'),
      FERRY_TLS_CERT: path.join(pki, `${name}.crt`),
      FERRY_TLS_KEY: path.join(pki, `${name}.key`),
    });

    const ports = { sftp: await freePort(), tunnel: await freePort(), health: await freePort() };
    const edgeEnv: FerryEnv = {
      dataDir: path.join(dir, 'edge'),
      databaseUrl: 'sqlite:/nonexistent/never-opened.db',
      extra: {
        ...tls('edge1'),
        FERRY_EDGE_HOST: '127.0.0.1',
        FERRY_EDGE_SFTP_PORT: String(ports.sftp),
        FERRY_EDGE_TUNNEL_PORT: String(ports.tunnel),
        FERRY_EDGE_HEALTH_PORT: String(ports.health),
      },
    };
    const nodeEnv: FerryEnv = {
      dataDir: path.join(dir, 'n1'),
      databaseUrl: `sqlite:${path.join(dir, 'ferry.db')}`,
      storageDir: path.join(files, 'storage'),
      extra: { ...tls('n1'), FERRY_NODE_NAME: 'n1', FERRY_EDGES: `127.0.0.1:${ports.tunnel}` },
    };
    const key = sshKeygen(dir);
    await ferryOk(nodeEnv, ['account', 'add', 'alice', '--key', key + '.pub']);
    const edge = await startNode(edgeEnv, { command: 'edge' });
    running.push(edge);
    const node = await startNode(nodeEnv, { workers: 0 });
    running.push(node);
    for (let i = 0; i < 200; i++) {
      const res = await fetch(`http://127.0.0.1:${ports.health}/health`).catch(() => undefined);
      if (res?.status === 200) break;
      if (i === 199) throw new Error('the node did not attach to the edge within 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }

    const source = path.join(files, 'source.bin');
    writeRandomFile(source, sizeMiB * MiB, 7);
    const direct: Login = { port: node.sftpPort, user: 'alice', keyFile: key, dir };
    const viaEdge: Login = { port: ports.sftp, user: 'alice', keyFile: key, dir };
    console.log(
      `Ferry edge benchmark: ${sizeMiB} MiB upload x ${rounds} rounds, files on ${shm ? '/dev/shm' : dir}; ${os.availableParallelism()} cores shared by client, edge and node (noisy: compare ratios)`,
    );

    // The client group is this script and the sftp/ssh processes it started and reaped.
    const groups: Groups = { client: () => [process.pid], edge: () => [edge.process.pid!], node: () => trees([node.process.pid!]) };
    const gib = sizeMiB / 1024;
    const rates = { direct: [] as number[], edge: [] as number[] };
    const cpu = { direct: [] as CpuDelta[], edge: [] as CpuDelta[] };
    const cpuFigures = (d: CpuDelta) => ['client', 'edge', 'node', 'everything else'].map((g) => `${g} ${perGiB(d, g, gib).toFixed(2)}`).join(', ');
    for (let round = 1; round <= rounds; round++) {
      const d = await upload(direct, [`put ${source} direct-${round}.bin`], groups);
      const e = await upload(viaEdge, [`put ${source} edge-${round}.bin`], groups);
      rates.direct.push((sizeMiB * MiB) / 1e6 / d.seconds);
      rates.edge.push((sizeMiB * MiB) / 1e6 / e.seconds);
      cpu.direct.push(d.cpu);
      cpu.edge.push(e.cpu);
      console.log(`  round ${round}: direct ${rates.direct.at(-1)!.toFixed(0)} MB/s, through the edge ${rates.edge.at(-1)!.toFixed(0)} MB/s`);
      console.log(`    CPU s/GiB direct: ${cpuFigures(d.cpu)}; through the edge: ${cpuFigures(e.cpu)}`);
      fs.rmSync(path.join(files, 'storage', 'alice', `direct-${round}.bin`), { force: true });
      fs.rmSync(path.join(files, 'storage', 'alice', `edge-${round}.bin`), { force: true });
    }
    const setup = { direct: [] as number[], edge: [] as number[] };
    for (let i = 0; i < 10; i++) {
      setup.direct.push(await timed(direct, ['pwd']));
      setup.edge.push(await timed(viaEdge, ['pwd']));
    }
    const ratio = median(rates.edge) / median(rates.direct);
    console.log(
      `upload: direct ${median(rates.direct).toFixed(0)} MB/s, through the edge ${median(rates.edge).toFixed(0)} MB/s: ${ratio.toFixed(2)}x (goal >= 0.8x)`,
    );
    const medianOf = (deltas: CpuDelta[], group: string) => median(deltas.map((c) => perGiB(c, group, gib)));
    console.log(`edge CPU: ${medianOf(cpu.edge, 'edge').toFixed(2)} s per GiB relayed (goal <= 1.5)`);
    console.log(
      `node CPU: ${medianOf(cpu.direct, 'node').toFixed(2)} s/GiB direct, ${medianOf(cpu.edge, 'node').toFixed(2)} through the edge; ` +
        `client (sftp + ssh): ${medianOf(cpu.direct, 'client').toFixed(2)} and ${medianOf(cpu.edge, 'client').toFixed(2)}`,
    );
    console.log(
      `connection setup (sftp login + pwd + exit, median of 10): direct ${(median(setup.direct) * 1000).toFixed(0)} ms, through the edge ${(median(setup.edge) * 1000).toFixed(0)} ms: ${(median(setup.direct) / median(setup.edge)).toFixed(2)}x`,
    );
  } finally {
    for (const p of running.reverse()) await p.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    if (shm) fs.rmSync(files, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`benchmark failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
});
