/** The OpenSSH reference (an `sftp -b` session) and the cost of one SSH login, both against the partner sshd. */
import { spawn } from 'node:child_process';
import { KEY_LOGIN_OPTIONS, SSH_CLIENT_OPTIONS } from '../../test/harness/openssh.js';
import { sftpLoginFailure } from '../cluster/probes.js';
import type { Teardown } from '../cluster/teardown.js';

const CLIENT_OPTIONS = [...SSH_CLIENT_OPTIONS, ...KEY_LOGIN_OPTIONS];

/**
 * One OpenSSH `sftp -b -` session running `commands`, in its own process group
 * (so the teardown can SIGKILL it and its ssh child on Ctrl-C), killed after timeoutMs.
 */
export function sftpSession(
  teardown: Teardown,
  login: { port: number; user: string; keyFile: string },
  commands: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('sftp', [...CLIENT_OPTIONS, '-i', login.keyFile, '-P', String(login.port), '-b', '-', `${login.user}@127.0.0.1`], {
      stdio: ['pipe', 'ignore', 'pipe'],
      detached: true,
    });
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    };
    const forget = teardown.addLastResort(killGroup);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${timeoutMs} ms)`;
      killGroup();
    }, timeoutMs);
    const onAbort = () => killGroup();
    teardown.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      clearTimeout(timer);
      forget();
      reject(err);
    });
    child.on('close', (code) => {
      const ms = performance.now() - started;
      clearTimeout(timer);
      teardown.signal.removeEventListener('abort', onAbort);
      killGroup();
      forget();
      resolve({ code, stderr, ms });
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(commands.join('\n') + '\n');
  });
}

export interface LoginCost {
  /** One login at a time: TCP connect, key exchange, key authentication, sftp subsystem, realpath, close. */
  sequentialMs: number[];
  /** `parallel` loops of logins at once: logins completed per second. */
  parallel: number;
  perSecond: number;
  failures: number;
  /** Why logins failed: message -> count. */
  errors: Record<string, number>;
}

/**
 * What one fresh SFTP connection costs with ssh2 (the library Ferry's SFTP push
 * uses) against this sshd: first one at a time, then `parallel` at once (the
 * queue's concurrency on both nodes), which shows how many per second the
 * machine's cores allow.
 */
export async function measureLoginCost(
  port: number,
  user: string,
  privateKey: Buffer,
  count: number,
  parallel: number,
  signal: AbortSignal,
): Promise<LoginCost> {
  let failures = 0;
  const errors: Record<string, number> = {};
  const attempt = async (): Promise<boolean> => {
    const why = await sftpLoginFailure(port, user, privateKey, 10_000);
    if (why === undefined) return true;
    failures++;
    errors[why] = (errors[why] ?? 0) + 1;
    return false;
  };
  const sequentialMs: number[] = [];
  for (let i = 0; i < count && !signal.aborted; i++) {
    const t0 = performance.now();
    if (await attempt()) sequentialMs.push(performance.now() - t0);
  }
  const total = count * 2;
  let started = 0;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (started < total && !signal.aborted) {
        started++;
        if (await attempt()) done++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { sequentialMs, parallel, perSecond: done / seconds, failures, errors };
}
