import ssh2 from '../../src/ssh2/library.js';
import { adminRequest } from '../../test/harness/admin-api.js';
import { sleep } from './teardown.js';

/** GET /health/ready on loopback: the status code, or 0 when nothing answers (within timeoutMs). */
export async function readyCode(adminPort: number, timeoutMs = 1000): Promise<{ code: number; body: any }> {
  try {
    const res = await adminRequest(adminPort, '/health/ready', { timeoutMs });
    return { code: res.status, body: res.body };
  } catch {
    return { code: 0, body: undefined };
  }
}

/**
 * One SFTP login with the ssh2 client: TCP connect, key exchange, key
 * authentication, the sftp subsystem, then realpath('.') (what `pwd` asks).
 * Resolves undefined on success, else why not (refused, reset, auth, timeout).
 */
export function sftpLoginFailure(port: number, user: string, privateKey: Buffer, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    let settled = false;
    const done = (why: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.removeAllListeners();
      client.on('error', () => {});
      client.end();
      client.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(`no answer within ${timeoutMs} ms`), timeoutMs);
    client.on('error', (err) => done((err as Error).message));
    client.on('close', () => done('connection closed before the login completed'));
    client.on('ready', () => {
      client.sftp((err, sftp) => {
        if (err) return done(`sftp subsystem: ${err.message}`);
        sftp.realpath('.', (err2, abs) => done(err2 ? `realpath: ${err2.message}` : typeof abs === 'string' && abs.length > 0 ? undefined : 'empty realpath'));
      });
    });
    client.connect({ host: '127.0.0.1', port, username: user, privateKey, readyTimeout: timeoutMs, keepaliveInterval: 0 });
  });
}

/** One fresh SSH login + SFTP realpath('.'): true when it worked. */
export async function sftpLoginOnce(port: number, user: string, privateKey: Buffer, timeoutMs = 5000): Promise<boolean> {
  return (await sftpLoginFailure(port, user, privateKey, timeoutMs)) === undefined;
}

/**
 * Calls probe every `everyMs` (start to start, never overlapping) until it returns
 * true, `stop()` says so, or the deadline passes. Returns the performance.now() of the
 * moment the successful probe completed, or undefined.
 */
export async function pollUntil(
  probe: () => Promise<boolean>,
  everyMs: number,
  deadline: number,
  stop: () => boolean,
  signal?: AbortSignal,
): Promise<number | undefined> {
  for (let attempt = 0; attempt < 1_000_000; attempt++) {
    if (stop() || signal?.aborted || performance.now() > deadline) return undefined;
    const started = performance.now();
    if (await probe()) return performance.now();
    const wait = everyMs - (performance.now() - started);
    if (wait > 0) await sleep(wait, signal).catch(() => {});
  }
  return undefined;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function max(values: number[]): number {
  return values.length === 0 ? NaN : Math.max(...values);
}
