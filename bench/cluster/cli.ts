import { spawn } from 'node:child_process';
import { FERRY_MAIN, ferryEnv, type FerryEnv } from '../../test/harness/ferry.js';

/** Runs one `ferry` CLI command (node dist/cli/ferry.js ...) with the node's env; SIGKILLed after timeoutMs. */
export function runCli(args: string[], env: FerryEnv, timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FERRY_MAIN, ...args], { env: ferryEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => (clearTimeout(timer), reject(err)));
    child.on('close', (code) => (clearTimeout(timer), resolve({ code: code ?? -1, stdout, stderr })));
  });
}
