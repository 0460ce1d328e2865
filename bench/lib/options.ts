/** Command-line options of the benchmark: which scenarios, how big, how many runs. */

export const SCENARIO_NAMES = ['login', 'upload', 'download', 'small', 'parallel', 'many'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export interface Sizes {
  /** The single file of the upload and download scenarios. */
  bigFile: number;
  smallFiles: number;
  smallFileSize: number;
  parallelSessions: number;
  parallelFileSize: number;
  manySessions: number;
  manyFileSize: number;
}

const FULL: Sizes = {
  bigFile: GiB,
  smallFiles: 2000,
  smallFileSize: 4096,
  parallelSessions: 8,
  parallelFileSize: 256 * MiB,
  manySessions: 200,
  manyFileSize: 10 * MiB,
};

const QUICK: Sizes = {
  bigFile: 64 * MiB,
  smallFiles: 200,
  smallFileSize: 4096,
  parallelSessions: 8,
  parallelFileSize: 16 * MiB,
  manySessions: 20,
  manyFileSize: MiB,
};

export interface Options {
  scenarios: ScenarioName[];
  quick: boolean;
  sizes: Sizes;
  /** Timed runs per scenario and server; the median is reported. */
  runs: number;
  /** Untimed runs per scenario and server before those; undefined: the scenario's own number per Ferry worker. */
  warmup: number | undefined;
  /** Keep the temporary directory (for a post-mortem). */
  keep: boolean;
  /** The whole benchmark is aborted (and cleaned up) after this long. */
  maxMinutes: number;
  /** Another checkout whose Ferry build runs as a third server, "base" (--base DIR). */
  base: string | undefined;
}

export const USAGE = `usage: node dist/bench/sftp-vs-openssh.js [options] [scenario ...]

Compares Ferry with OpenSSH's own SFTP server (a private sshd), both driven by
OpenSSH's sftp client with aes128-gcm@openssh.com and curve25519-sha256 key
exchange, everything on /dev/shm.

scenarios (default: all, in this order):
  login      a session that only runs pwd (login latency, ms)
  upload     one 1 GiB file uploaded (MB/s)
  download   one 1 GiB file downloaded to /dev/null (MB/s)
  small      2000 files of 4 KiB uploaded with put -r in one session (files/s)
  parallel   8 sessions each uploading 256 MiB at once (aggregate MB/s)
  many       200 sessions each uploading 10 MiB at once (wall time, MB/s, peak RSS)

options:
  --quick            small sizes for a smoke run (64 MiB, 200 files, 8 x 16 MiB, 20 x 1 MiB)
  --runs N           timed runs per scenario and server, 1..20 (default 3; the median is shown)
  --warmup N         runs per scenario and server before the timed ones, 0..20, shown on a row of
                     their own (default: 3 per Ferry worker for small, where a worker's first
                     sessions measure V8 compiling its code; none for the others)
  --max-minutes M    abort everything after M minutes (default 120, or 15 with --quick)
  --keep             keep the temporary directory under /dev/shm
  --base DIR         also run the Ferry built in another checkout (e.g. a git worktree of the
                     base commit, after npm ci and npm run build there) as a third server,
                     "base", in the same runs: the summary adds its figures and Ferry vs base
  --help             this text`;

export class UsageError extends Error {}

function wholeNumber(flag: string, value: string | undefined, min: number, max: number): number {
  const n = value === undefined || value.trim() === '' ? NaN : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} needs a whole number from ${min} to ${max}`);
  return n;
}

export function parseOptions(argv: string[]): Options | 'help' {
  const scenarios = new Set<ScenarioName>();
  let quick = false;
  let keep = false;
  let runs = 3;
  let warmup: number | undefined;
  let maxMinutes: number | undefined;
  let base: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '--quick') quick = true;
    else if (arg === '--keep') keep = true;
    else if (arg === '--runs') runs = wholeNumber(arg, argv[++i], 1, 20);
    else if (arg === '--warmup') warmup = wholeNumber(arg, argv[++i], 0, 20);
    else if (arg === '--max-minutes') maxMinutes = wholeNumber(arg, argv[++i], 1, 24 * 60);
    else if (arg === '--base') {
      base = argv[++i];
      if (!base || base.startsWith('--')) throw new UsageError('--base needs the directory of another checkout');
    } else if ((SCENARIO_NAMES as readonly string[]).includes(arg)) scenarios.add(arg as ScenarioName);
    else throw new UsageError(`unknown argument "${arg}"`);
  }
  return {
    // Always in the canonical order, whatever order they were given in.
    scenarios: SCENARIO_NAMES.filter((s) => scenarios.size === 0 || scenarios.has(s)),
    quick,
    sizes: quick ? QUICK : FULL,
    runs,
    warmup,
    keep,
    maxMinutes: maxMinutes ?? (quick ? 15 : 120),
    base,
  };
}

/** "1 GiB", "256 MiB", "4 KiB": sizes as the scenarios name them. */
export function formatSize(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}
