/**
 * The scenarios: what each one uploads or downloads, how a run is checked and
 * cleared away, and which figures it yields. Every remote path is relative, so it
 * lands in the session's start directory: the home for Ferry, internal-sftp's -d
 * directory for OpenSSH.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { formatSize, type ScenarioName, type Sizes } from './options.js';
import { expectFile, writeNoiseFile } from './files.js';
import { timeSessions, type Target, type Timing } from './target.js';

export interface Metric {
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  /** How the runs combine into the reported figure. */
  combine: 'median' | 'max';
  value: number;
}

export interface Workload {
  /** One list of sftp batch commands per session; the sessions run at once. */
  sessions: string[][];
  /** Whether the sessions wait for each other, logged in, before their transfers (see start-gate.ts). */
  gated: boolean;
  timeoutMs: number;
  /** Untimed, once per server before its first run. */
  setUp?(target: Target): Promise<void>;
  /** Throws unless the run left the right files on the server. */
  verify(target: Target): void;
  /** Removes what a run left on the server, before the next run. */
  clear(target: Target): void;
  /** Untimed, once per server after its last run. */
  tearDown?(target: Target): void;
  /** The figures of one run, from its timing. */
  metrics(timing: Timing): Metric[];
}

export interface Scenario {
  name: ScenarioName;
  /** Memory figures beyond the peak RSS: PSS too. */
  detailedMemory: boolean;
  /**
   * Untimed runs per Ferry worker before the timed ones, for scenarios made of
   * many small requests: V8 compiles a function's optimised code only after
   * thousands of calls, and a worker serves every request of a session, so a
   * worker's first sessions show its start-up, not how it serves.
   */
  warmupPerWorker: number;
  /** Writes the source files into dir and describes the work. */
  prepare(dir: string): Promise<Workload>;
}

/** Bounds a run: a minute for logins, then at least 4 MB/s. */
function timeoutFor(totalBytes: number): number {
  return Math.round(60_000 + (totalBytes / 4e6) * 1000);
}

const MB = 1e6;

function throughput(label: string, bytes: number, ms: number): Metric {
  return { label, unit: 'MB/s', better: 'higher', combine: 'median', value: bytes / MB / (ms / 1000) };
}

interface SourceFile {
  local: string;
  remote: string;
  sha256: string;
}

/** `count` distinct files of `size` bytes, named prefix-N. */
async function writeSources(dir: string, prefix: string, count: number, size: number, extension = 'bin'): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${i}.${extension}`;
    const local = path.join(dir, name);
    files.push({ local, remote: name, sha256: writeNoiseFile(local, size, i) });
    // Writing is synchronous: let a Ctrl-C be handled between files.
    await yieldToEventLoop();
  }
  return files;
}

/**
 * `sessions` clients at once, each uploading its own `size`-byte file: the upload,
 * parallel and many scenarios differ only in these numbers and their figures.
 * Several sessions are gated: all log in first, then all upload together.
 */
function concurrentUploads(name: ScenarioName, sessions: number, size: number, metrics: (timing: Timing, totalBytes: number) => Metric[]): Scenario {
  return {
    name,
    detailedMemory: name === 'many',
    warmupPerWorker: 0,
    async prepare(dir) {
      const sources = await writeSources(dir, name, sessions, size);
      const remotePath = (target: Target, file: SourceFile) => path.join(target.root, file.remote);
      return {
        sessions: sources.map((file) => [`put ${file.local} ${file.remote}`]),
        gated: sessions > 1,
        timeoutMs: timeoutFor(sessions * size),
        verify: (target) => sources.forEach((file) => expectFile(remotePath(target, file), size, file.sha256)),
        clear: (target) => sources.forEach((file) => fs.rmSync(remotePath(target, file), { force: true })),
        metrics: (timing) => metrics(timing, sessions * size),
      };
    },
  };
}

/** One file downloaded to /dev/null; its content is checked once by an untimed download. */
function download(size: number): Scenario {
  return {
    name: 'download',
    detailedMemory: false,
    warmupPerWorker: 0,
    async prepare(dir) {
      const [file] = (await writeSources(dir, 'download', 1, size)) as [SourceFile];
      const check = path.join(dir, 'downloaded.bin');
      return {
        sessions: [[`get ${file.remote} /dev/null`]],
        gated: false,
        timeoutMs: timeoutFor(size),
        async setUp(target) {
          fs.copyFileSync(file.local, path.join(target.root, file.remote));
          await timeSessions(target, [[`get ${file.remote} ${check}`]], timeoutFor(size));
          try {
            expectFile(check, size, file.sha256);
          } finally {
            fs.rmSync(check, { force: true });
          }
        },
        verify: () => {},
        clear: () => {},
        tearDown: (target) => fs.rmSync(path.join(target.root, file.remote), { force: true }),
        metrics: (timing) => [throughput(`${formatSize(size)} download`, size, timing.totalMs)],
      };
    },
  };
}

/** Many small files in one session: `put -r` of a local directory. */
function smallFiles(count: number, size: number): Scenario {
  return {
    name: 'small',
    detailedMemory: false,
    warmupPerWorker: 3,
    async prepare(dir) {
      const local = path.join(dir, 'small');
      fs.mkdirSync(local);
      const sources = await writeSources(local, 'file', count, size, 'dat');
      const remoteDir = (target: Target) => path.join(target.root, 'small');
      return {
        sessions: [[`put -r ${local} small`]],
        gated: false,
        timeoutMs: 60_000 + count * 50,
        verify: (target) => sources.forEach((file) => expectFile(path.join(remoteDir(target), file.remote), size, file.sha256)),
        clear: (target) => fs.rmSync(remoteDir(target), { recursive: true, force: true }),
        metrics: ({ totalMs }) => [
          {
            label: `${count} files of ${formatSize(size)}, one session`,
            unit: 'files/s',
            better: 'higher',
            combine: 'median',
            value: count / (totalMs / 1000),
          },
        ],
      };
    },
  };
}

/** A session that logs in and runs pwd: the fixed cost every other figure includes. */
function login(): Scenario {
  return {
    name: 'login',
    detailedMemory: false,
    warmupPerWorker: 0,
    prepare: async () => ({
      sessions: [['pwd']],
      gated: false,
      timeoutMs: 30_000,
      verify: () => {},
      clear: () => {},
      metrics: ({ totalMs }) => [{ label: 'session with login and pwd', unit: 'ms', better: 'lower', combine: 'median', value: totalMs }],
    }),
  };
}

export function buildScenario(name: ScenarioName, sizes: Sizes): Scenario {
  switch (name) {
    case 'login':
      return login();
    case 'upload':
      return concurrentUploads('upload', 1, sizes.bigFile, ({ totalMs }, bytes) => [throughput(`${formatSize(bytes)} upload`, bytes, totalMs)]);
    case 'download':
      return download(sizes.bigFile);
    case 'small':
      return smallFiles(sizes.smallFiles, sizes.smallFileSize);
    case 'parallel': {
      const { parallelSessions: n, parallelFileSize: size } = sizes;
      return concurrentUploads('parallel', n, size, ({ transferMs }, bytes) => [
        throughput(`${n} sessions x ${formatSize(size)} upload, aggregate (after logins)`, bytes, transferMs),
      ]);
    }
    case 'many': {
      const { manySessions: n, manyFileSize: size } = sizes;
      const seconds = (label: string, ms: number): Metric => ({ label, unit: 's', better: 'lower', combine: 'median', value: ms / 1000 });
      return concurrentUploads('many', n, size, ({ totalMs, transferMs }, bytes) => [
        seconds(`${n} sessions x ${formatSize(size)} upload, wall time with logins`, totalMs),
        seconds(`  of which uploads, all ${n} sessions logged in`, transferMs),
        throughput(`  aggregate upload rate, after logins`, bytes, transferMs),
      ]);
    }
  }
}
