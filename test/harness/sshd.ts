/**
 * OpenSSH's own SFTP server (internal-sftp) in a private sshd on a free loopback
 * port, with its own host key, config and authorized key file: the benchmarks'
 * reference and the routing tests' partner.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { sshKeygen } from './openssh.js';
import { freePort } from './ports.js';
import { terminateTree } from './process-tree.js';

const SSHD = '/usr/sbin/sshd';
const PRIVSEP_DIR = '/run/sshd';

export interface SshdServer {
  pid: number;
  port: number;
  /** Where sftp sessions start, and so where relative remote paths land. */
  filesDir: string;
  logFile: string;
  /** The host key's public half (OpenSSH .pub file). */
  hostKeyPub: string;
  stop(): Promise<void>;
}

function sshdConfig(options: { port: number; hostKey: string; authorizedKeys: string; filesDir: string }): string {
  return [
    `Port ${options.port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${options.hostKey}`,
    'PidFile none',
    `AuthorizedKeysFile ${options.authorizedKeys}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'StrictModes no',
    'UsePAM no',
    'UseDNS no',
    // The 'many' scenario opens 200 connections at once; the default (10:30:100) drops most of them.
    'MaxStartups 1000:30:1000',
    'LogLevel ERROR',
    // Exec requests (a push's sha256sum at the partner) run through root's shell, and Debian's bash
    // reads ~/.bashrc when sshd starts it unless SHLVL says it is nested: whatever the host's .bashrc
    // does (a pyenv rehash waits up to 60 s on a stale lock) must not slow or stall a test.
    'SetEnv SHLVL=1',
    `Subsystem sftp internal-sftp -d ${options.filesDir}`,
    '',
  ].join('\n');
}

function checkInstalled(): void {
  if (!fs.existsSync(SSHD)) {
    throw new Error(`${SSHD} not found: the benchmark needs OpenSSH's server as its reference (apt-get install openssh-server)`);
  }
  // sshd refuses to start without its privilege-separation directory.
  try {
    fs.mkdirSync(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new Error(`cannot create ${PRIVSEP_DIR}, which sshd needs (run as root): ${(err as Error).message}`, { cause: err });
  }
}

/** Resolves once something accepts connections on the port; rejects if sshd exits first or after timeoutMs. */
async function waitForListener(port: number, exited: Promise<string>, timeoutMs: number): Promise<void> {
  let gone: string | undefined;
  void exited.then((why) => (gone = why));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone !== undefined) throw new Error(`sshd exited before listening: ${gone}`);
    const up = await new Promise<boolean>((resolve) => {
      // Waits for the banner and answers with one, or sshd logs the probe as a failed key exchange.
      const socket = net.connect(port, '127.0.0.1');
      socket.setTimeout(2_000, () => (socket.destroy(), resolve(false)));
      socket.once('data', () => socket.end('SSH-2.0-ferry-bench-probe\r\n', () => (socket.destroy(), resolve(true))));
      socket.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

export async function startSshd(dir: string, clientPublicKey: string, options: { port?: number } = {}): Promise<SshdServer> {
  checkInstalled();
  const filesDir = path.join(dir, 'files');
  fs.mkdirSync(filesDir, { recursive: true });
  const hostKey = fs.existsSync(path.join(dir, 'ssh_host_ed25519_key')) ? path.join(dir, 'ssh_host_ed25519_key') : sshKeygen(dir, 'ssh_host_ed25519_key');
  const authorizedKeys = path.join(dir, 'authorized_keys');
  fs.copyFileSync(clientPublicKey, authorizedKeys);
  const port = options.port ?? (await freePort());
  const configFile = path.join(dir, 'sshd_config');
  fs.writeFileSync(configFile, sshdConfig({ port, hostKey, authorizedKeys, filesDir }));
  try {
    execFileSync(SSHD, ['-t', '-f', configFile], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`sshd rejects its configuration ${configFile}: ${(err as { stderr?: Buffer }).stderr ?? err}`, { cause: err });
  }

  const logFile = path.join(dir, 'sshd.log');
  const log = fs.openSync(logFile, 'a');
  // Detached: its own process group, so a Ctrl-C reaches us and we stop it in order.
  const child = spawn(SSHD, ['-D', '-e', '-f', configFile], { stdio: ['ignore', log, log], detached: true });
  fs.closeSync(log);
  const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(`code ${code}, signal ${signal}`)));
  const pid = child.pid!;
  // Per-connection sshd processes live in sessions of their own: stop the whole tree.
  const stop = () => terminateTree(pid, 5_000);
  try {
    await waitForListener(port, exited, 10_000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${fs.readFileSync(logFile, 'utf8').slice(-2000)}`, { cause: err });
  }
  return { pid, port, filesDir, logFile, hostKeyPub: hostKey + '.pub', stop };
}
