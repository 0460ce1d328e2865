/**
 * Makes concurrent sessions really concurrent: each session logs in, reports
 * itself ready, and waits at a gate before its transfer; the gate opens once all
 * are ready. Without it, on 2 cores the 200 clients of the many-sessions scenario
 * spend so long starting and logging in that the first uploads are over before
 * the last clients connect, and the server never holds 200 sessions at once.
 *
 * The gate is a file lock: a `flock -x` child of ours holds it, and each session
 * waits in sftp's local shell escape (`!flock -s gate true`) until it is released.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export class StartGate {
  private readonly readyDir: string;
  private readonly lockFile: string;
  private holder: ChildProcess | undefined;

  constructor(dir: string) {
    this.readyDir = path.join(dir, 'ready');
    this.lockFile = path.join(dir, 'gate.lock');
  }

  /** Closes the gate: resolves once the lock is held. */
  async close(timeoutMs = 10_000): Promise<void> {
    fs.rmSync(this.readyDir, { recursive: true, force: true });
    fs.mkdirSync(this.readyDir, { recursive: true });
    fs.writeFileSync(this.lockFile, '');
    const holder = spawn('flock', ['-x', this.lockFile, 'sh', '-c', 'echo held; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.holder = holder;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`flock did not take ${this.lockFile} within ${timeoutMs} ms`)), timeoutMs);
      holder.stdout!.once('data', () => (clearTimeout(timer), resolve()));
      holder.once('exit', (code) => (clearTimeout(timer), reject(new Error(`flock exited with ${code}`))));
    });
  }

  /** The sftp batch lines that make session `index` report ready and wait for the gate. */
  commands(index: number): string[] {
    return [`!touch ${path.join(this.readyDir, String(index))}`, `!flock -s ${this.lockFile} true`];
  }

  get readyCount(): number {
    return fs.readdirSync(this.readyDir).length;
  }

  /**
   * Polls until `expected` sessions are ready, `stillPossible` turns false (too many
   * sessions already ended), or timeoutMs passes; returns how many were ready.
   */
  async waitReady(expected: number, stillPossible: () => boolean, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.readyCount < expected && stillPossible() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.readyCount;
  }

  /** Opens the gate: every waiting session goes on at once. */
  open(): void {
    this.holder?.stdin?.end();
    this.holder = undefined;
  }
}
