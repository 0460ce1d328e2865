/**
 * Attack script for issue 20, finding 5 (not a test: run by hand, bounded in time and count,
 * 127.0.0.1 only): ATTACKERS connections from 127.0.0.2 send wrong passwords for one account
 * (up to 6 per connection, reconnecting) while a real user logs in from 127.0.0.1 with the right
 * password, one login after another, with OpenSSH's sftp (its own process, so the attackers' client
 * work in this process does not slow it); prints the real user's login times without and under attack.
 *
 *   node dist/test/attacks/login-flood.js [ATTACKERS=20] [SECONDS=15]
 * Extra node settings come from the environment (e.g. FERRY_DEFENDER_ENABLED=false).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import ssh2 from 'ssh2';
import { freshDatabaseUrl, tempDir } from '../harness/databases.js';
import { ferryOk, startNode } from '../harness/ferry.js';
import { sftpBatch } from '../harness/openssh.js';
import { startPostgres } from '../harness/postgres.js';

const ATTACKERS = Number(process.argv[2] ?? 20);
const SECONDS = Number(process.argv[3] ?? 15);
const MAX_CONNECTIONS_PER_ATTACKER = 2000;

/** One SSH login with a password; resolves with its duration in ms, or the error. */
function login(port: number, user: string, password: string, from: string, tries = 1): Promise<{ ok: boolean; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const client = new ssh2.Client();
    let attempts = 0;
    const done = (ok: boolean) => {
      client.end();
      client.destroy?.();
      resolve({ ok, ms: performance.now() - started });
    };
    const timer = setTimeout(() => done(false), 20_000);
    client.on('ready', () => (clearTimeout(timer), done(true)));
    client.on('error', () => (clearTimeout(timer), done(false)));
    client.on('close', () => (clearTimeout(timer), done(false)));
    const sock = net.connect({ host: '127.0.0.1', port, localAddress: from });
    sock.on('error', () => {});
    client.connect({
      sock,
      username: user,
      readyTimeout: 20_000,
      authHandler: (_left: unknown, _partial: unknown, next: (m: unknown) => void) => {
        if (attempts++ >= tries) return next(false);
        next({ type: 'password', username: user, password });
      },
    } as any);
  });
}

function summary(times: number[]): string {
  const s = [...times].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(0);
  return `n=${s.length} median ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${s[s.length - 1]!.toFixed(0)} ms`;
}

const dir = tempDir('ferry-attack-');
const postgres = process.env.ATTACK_DATABASE === 'postgres' ? await startPostgres() : undefined;
if (postgres) process.env.FERRY_TEST_POSTGRES_URL = postgres.adminUrl;
const env = {
  dataDir: path.join(dir, 'data'),
  databaseUrl: await freshDatabaseUrl(postgres ? 'postgres' : 'sqlite', dir),
  extra: { FERRY_DEFENDER_SAFE_LIST: '127.0.0.1/32' },
};
await ferryOk(env, ['account', 'add', 'alice', '--password-stdin'], 'alice password\n');
await ferryOk(env, ['account', 'add', 'victim', '--password-stdin'], 'victim password\n');
const node = await startNode(env, { workers: 2 });
/** The real user: OpenSSH sftp, password login, `pwd`; the whole run's wall time. */
const realLogin = async () => {
  const started = performance.now();
  const r = await sftpBatch({ port: node.sftpPort, user: 'alice', password: 'alice password', dir }, ['pwd'], ['-o', 'BindAddress=127.0.0.1'], 30_000);
  return { ok: r.code === 0, ms: performance.now() - started };
};
try {
  const quiet: number[] = [];
  for (let i = 0; i < 10; i++) quiet.push((await realLogin()).ms);
  console.log(`real login, no attack:    ${summary(quiet)}`);

  const stopAt = Date.now() + SECONDS * 1000;
  let attempts = 0;
  const attacker = async () => {
    for (let i = 0; i < MAX_CONNECTIONS_PER_ATTACKER && Date.now() < stopAt; i++) {
      await login(node.sftpPort, 'victim', `wrong ${i}`, '127.0.0.2', 6);
      attempts++;
    }
  };
  const attack = Promise.all(Array.from({ length: ATTACKERS }, attacker));
  await new Promise((r) => setTimeout(r, 1000));
  const underAttack: number[] = [];
  let failed = 0;
  while (Date.now() < stopAt - 1000) {
    const r = await realLogin();
    if (r.ok) underAttack.push(r.ms);
    else failed++;
  }
  await attack;
  console.log(`real login, under attack: ${summary(underAttack)}; failed ${failed}`);
  console.log(`attacker connections: ${attempts} in ${SECONDS} s from ${ATTACKERS} parallel clients`);
  const victim = JSON.parse(await ferryOk(env, ['account', 'show', 'victim', '--json']));
  console.log(`victim account: ${victim.state}, recent failures ${victim.lockout?.recentFailures}`);
} finally {
  await node.kill('SIGKILL');
  await postgres?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
