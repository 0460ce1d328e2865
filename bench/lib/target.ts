/** A server under test as the scenarios see it, and OpenSSH sftp sessions against it. */
import { performance } from 'node:perf_hooks';
import { sftpBatch, type Login } from '../../test/harness/openssh.js';
import type { StartGate } from './start-gate.js';

export interface Target {
  /** 'OpenSSH', 'Ferry', or 'base' (Ferry built from another checkout, --base). */
  name: 'OpenSSH' | 'Ferry' | 'base';
  login: Login;
  /** Where a relative remote path lands on the server's disk. */
  root: string;
  /** The root of the server's process tree (memory sampling). */
  pid: number;
}

/**
 * The same client settings for both servers; the harness adds key login, batch mode
 * and timeouts. The key exchange is pinned to what Ferry (ssh2) negotiates anyway:
 * left alone, OpenSSH pairs pick sntrup761x25519, which costs ~70 ms more per login.
 */
const CLIENT_ARGS = ['-o', 'Ciphers=aes128-gcm@openssh.com', '-o', 'KexAlgorithms=curve25519-sha256'];

function tail(text: string, max = 600): string {
  const t = text.trim();
  return t.length > max ? '…' + t.slice(-max) : t;
}

export interface Timing {
  /** From the first client's start to the last one's exit. */
  totalMs: number;
  /** From the opening of the start gate (all sessions logged in) to the last exit; totalMs without a gate. */
  transferMs: number;
}

/**
 * Runs one sftp batch session per entry of `batches`, all at once, and times them.
 * With a gate, the sessions log in, wait at it, and go on together once all are
 * ready. Throws if any session fails.
 */
export async function timeSessions(target: Target, batches: string[][], timeoutMs: number, gate?: StartGate): Promise<Timing> {
  await gate?.close();
  const start = performance.now();
  let ended = 0;
  const sessions = batches.map((commands, i) =>
    sftpBatch(target.login, gate ? [...gate.commands(i), ...commands] : commands, CLIENT_ARGS, timeoutMs).finally(() => ended++),
  );
  let released = start;
  if (gate) {
    let ready: number;
    try {
      // A session that ends before the gate opens has failed: stop waiting for it.
      ready = await gate.waitReady(batches.length, () => ended === 0, timeoutMs);
    } finally {
      released = performance.now();
      gate.open();
    }
    if (ready < batches.length && ended === 0) {
      console.error(`warning: only ${ready} of ${batches.length} sessions were ready after ${timeoutMs / 1000} s; started anyway`);
    }
  }
  const results = await Promise.all(sessions);
  const end = performance.now();
  const failed = results.filter((r) => r.code !== 0);
  if (failed.length > 0) {
    const first = failed[0]!;
    const why = first.code === -1 ? `killed after the ${timeoutMs / 1000} s timeout` : `exit code ${first.code}`;
    throw new Error(`${failed.length} of ${batches.length} sftp sessions failed; the first: ${why}: ${tail(first.stderr || first.stdout)}`);
  }
  return { totalMs: end - start, transferMs: end - released };
}

/** One short session, to fail early and clearly if logging in does not work. */
export async function checkLogin(target: Target): Promise<void> {
  const result = await sftpBatch(target.login, ['pwd'], CLIENT_ARGS, 30_000);
  if (result.code !== 0) {
    throw new Error(`cannot log in to ${target.name} on port ${target.login.port}: ${tail(result.stderr || result.stdout)}`);
  }
}
