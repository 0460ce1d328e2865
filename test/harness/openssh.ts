import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { CliResult } from './ferry.js';

export interface Login {
  port: number;
  user: string;
  /** Private key file; otherwise the password is given through SSH_ASKPASS. */
  keyFile?: string;
  password?: string;
  /** Where the askpass helper is written. */
  dir: string;
}

export function sshKeygen(dir: string, name = 'id_ed25519'): string {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-t', 'ed25519', '-N', '', '-q', '-C', `${name}@test`, '-f', file]);
  return file;
}

const ASKPASS = '#!/bin/sh\nprintf "%s\\n" "$FERRY_TEST_PASSWORD"\n';

/**
 * The askpass script that hands OpenSSH the password, written once per directory
 * and into place by a rename: rewriting it while a parallel client runs it fails
 * with ETXTBSY.
 */
function writeAskpass(dir: string): string {
  const askpass = path.join(dir, 'askpass.sh');
  if (fs.existsSync(askpass)) return askpass;
  const temp = `${askpass}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  fs.writeFileSync(temp, ASKPASS, { mode: 0o755 });
  fs.renameSync(temp, askpass);
  return askpass;
}

/** What every test and benchmark client tells OpenSSH: no host-key prompt or file, errors only, bounded waits. */
export const SSH_CLIENT_OPTIONS: readonly string[] = [
  '-o',
  'StrictHostKeyChecking=no',
  '-o',
  'UserKnownHostsFile=/dev/null',
  '-o',
  'LogLevel=ERROR',
  '-o',
  'ConnectTimeout=10',
  '-o',
  'ServerAliveInterval=5',
];

/** A login with the key given by -i only, never a prompt. */
export const KEY_LOGIN_OPTIONS: readonly string[] = ['-o', 'IdentitiesOnly=yes', '-o', 'PreferredAuthentications=publickey', '-o', 'BatchMode=yes'];

function commonOptions(login: Login): { args: string[]; env: NodeJS.ProcessEnv } {
  const args = [...SSH_CLIENT_OPTIONS];
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (login.keyFile) {
    args.push('-i', login.keyFile, ...KEY_LOGIN_OPTIONS);
  } else {
    const askpass = writeAskpass(login.dir);
    // sftp -b turns BatchMode on, which disables askpass; the first value given wins.
    args.push('-o', 'BatchMode=no', '-o', 'PreferredAuthentications=password', '-o', 'PubkeyAuthentication=no', '-o', 'NumberOfPasswordPrompts=1');
    Object.assign(env, { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', FERRY_TEST_PASSWORD: login.password ?? '' });
  }
  return { args, env };
}

function collect(child: ChildProcess, timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Runs OpenSSH `sftp` in batch mode with the given commands. */
export function sftpBatch(login: Login, commands: string[], extraArgs: string[] = [], timeoutMs = 120_000): Promise<CliResult> {
  const { args, env } = commonOptions(login);
  const child = spawn('sftp', [...extraArgs, ...args, '-P', String(login.port), '-b', '-', `${login.user}@127.0.0.1`], { env, stdio: 'pipe' });
  // sftp may exit before reading its commands (no server yet): its exit code says so, not an EPIPE.
  child.stdin!.on('error', () => {});
  child.stdin!.end(commands.join('\n') + '\n');
  return collect(child, timeoutMs);
}

/** A running OpenSSH client, killed together with the ssh process it started (as when its machine dies). */
export interface SpawnedClient {
  child: ChildProcess;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** SIGKILLs sftp and its ssh child; resolves when sftp has exited. */
  killHard(): Promise<void>;
}

/** Starts OpenSSH `sftp` without waiting for it, e.g. to kill it mid-transfer. */
export function sftpSpawn(login: Login, commands: string[], extraArgs: string[] = []): SpawnedClient {
  const { args, env } = commonOptions(login);
  const child = spawn('sftp', [...extraArgs, ...args, '-P', String(login.port), '-b', '-', `${login.user}@127.0.0.1`], {
    env,
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  child.stdin!.end(commands.join('\n') + '\n');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    async killHard() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
      await exited;
    },
  };
}

export function scp(login: Login, from: string, to: string): Promise<CliResult> {
  const { args, env } = commonOptions(login);
  const child = spawn('scp', [...args, '-P', String(login.port), from, to], { env, stdio: 'pipe' });
  return collect(child, 120_000);
}

/** Runs a command over SSH exec (as rclone does for hashes). */
export function sshExec(login: Login, command: string): Promise<CliResult> {
  const { args, env } = commonOptions(login);
  const child = spawn('ssh', [...args, '-p', String(login.port), `${login.user}@127.0.0.1`, command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return collect(child, 60_000);
}
