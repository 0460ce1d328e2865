/** Command line of the routing benchmark (bench/routing.ts). */

export const SCENARIOS = ['noop', 'copy', 'sftp'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface RoutingOptions {
  scenarios: Scenario[];
  quick: boolean;
  /** Measured rounds per configuration (the median is reported). */
  rounds: number;
  /** No-op jobs per round. */
  jobs: number;
  /** Files per round in the local-copy and SFTP scenarios. */
  files: number;
  fileSize: number;
  /** The SFTP scenario also with FERRY_QUEUE_CONCURRENCY=16 on both nodes. */
  concurrency16: boolean;
  /** Logins measured for the per-connection cost of SSH. */
  probeLogins: number;
}

export const USAGE = `usage: node dist/bench/routing.js [noop] [copy] [sftp] [options]

  noop     queue throughput: no-op jobs, 1 node vs 2 nodes on one PostgreSQL
  copy     route deliveries that copy into another account (2 nodes)
  sftp     route deliveries pushed to an OpenSSH sshd partner vs OpenSSH sftp (2 nodes)
           (default: all three)

  --quick            small sizes, 1 round: a smoke run
  --rounds N         measured rounds per configuration (default 3)
  --jobs N           no-op jobs per round (default 5000)
  --files N          files per round for copy and sftp (default 1000)
  --file-size BYTES  size of each file (default 4096)
  --no-c16           skip the SFTP run with FERRY_QUEUE_CONCURRENCY=16
  --logins N         SSH logins timed for the per-connection cost (default 60)
`;

export class UsageError extends Error {}

function positiveInt(flag: string, value: string | undefined, max: number): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`${flag} needs a whole number from 1 to ${max} (got "${value ?? ''}")`);
  return n;
}

export function parseRoutingOptions(argv: string[]): RoutingOptions {
  const scenarios: Scenario[] = [];
  let quick = false;
  let rounds: number | undefined;
  let jobs: number | undefined;
  let files: number | undefined;
  let fileSize: number | undefined;
  let logins: number | undefined;
  let concurrency16 = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if ((SCENARIOS as readonly string[]).includes(arg)) {
      if (!scenarios.includes(arg as Scenario)) scenarios.push(arg as Scenario);
    } else if (arg === '--quick') quick = true;
    else if (arg === '--rounds') rounds = positiveInt(arg, argv[++i], 50);
    else if (arg === '--jobs') jobs = positiveInt(arg, argv[++i], 1_000_000);
    else if (arg === '--files') files = positiveInt(arg, argv[++i], 100_000);
    else if (arg === '--file-size') fileSize = positiveInt(arg, argv[++i], 64 * 1024 * 1024);
    else if (arg === '--logins') logins = positiveInt(arg, argv[++i], 10_000);
    else if (arg === '--no-c16') concurrency16 = false;
    else if (arg === '-h' || arg === '--help') throw new UsageError('');
    else throw new UsageError(`unknown argument "${arg}"`);
  }
  return {
    scenarios: SCENARIOS.filter((s) => scenarios.length === 0 || scenarios.includes(s)),
    quick,
    rounds: rounds ?? (quick ? 1 : 3),
    jobs: jobs ?? (quick ? 500 : 5000),
    files: files ?? (quick ? 100 : 1000),
    fileSize: fileSize ?? 4096,
    concurrency16,
    probeLogins: logins ?? (quick ? 20 : 60),
  };
}
