/**
 * The programs the tests drive, where each comes from on Debian, and the check that
 * `npm test` makes before it starts anything: as root with apt-get it installs what
 * is missing (as .ci/run relies on), otherwise it names each missing program in one
 * line with the command that installs it, and no test runs.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

interface Prerequisite {
  /** What the tests run, as a user would name it. */
  program: string;
  /** The Debian package that brings it. */
  debianPackage: string;
  /** What needs it. */
  why: string;
  present(): boolean;
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir !== '' && isExecutable(path.join(dir, command)));
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Debian's versioned PostgreSQL programs (/usr/lib/postgresql/N/bin), else PATH: as the harness finds them. */
function postgresProgram(name: string): boolean {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root) : [];
  return versions.some((v) => isExecutable(path.join(root, v, 'bin', name))) || onPath(name);
}

const PREREQUISITES: Prerequisite[] = [
  {
    program: 'sftp',
    debianPackage: 'openssh-client',
    why: 'OpenSSH sftp, scp and ssh drive the server',
    present: () => onPath('sftp') && onPath('scp') && onPath('ssh'),
  },
  {
    program: '/usr/sbin/sshd',
    debianPackage: 'openssh-server',
    why: 'a private SFTP partner and the OpenSSH reference',
    present: () => isExecutable('/usr/sbin/sshd'),
  },
  { program: 'openssl', debianPackage: 'openssl', why: 'certificates for HTTPS partners and PKI checks', present: () => onPath('openssl') },
  { program: 'rclone', debianPackage: 'rclone', why: "rclone's sftp backend", present: () => onPath('rclone') },
  { program: '/usr/sbin/haproxy', debianPackage: 'haproxy', why: 'the balancer in front of two edges', present: () => isExecutable('/usr/sbin/haproxy') },
  {
    program: 'initdb',
    debianPackage: 'postgresql',
    why: 'the private PostgreSQL of the database tests',
    present: () => postgresProgram('initdb') && postgresProgram('pg_ctl'),
  },
  {
    program: 'pg_dump',
    debianPackage: 'postgresql-client',
    why: 'ferry backup/restore on PostgreSQL',
    present: () => postgresProgram('pg_dump') && postgresProgram('pg_restore'),
  },
  {
    program: 'runuser',
    debianPackage: 'util-linux',
    why: 'PostgreSQL runs as the postgres user when the tests run as root',
    present: () => process.getuid?.() !== 0 || onPath('runuser'),
  },
  { program: '/usr/bin/chromium', debianPackage: 'chromium', why: "the console's browser tests", present: () => isExecutable('/usr/bin/chromium') },
  { program: 'xmllint', debianPackage: 'libxml2-utils', why: 'exported snapshots checked against their XSD', present: () => onPath('xmllint') },
];

/** The prerequisites not on this machine. */
export function missingPrerequisites(): Prerequisite[] {
  return PREREQUISITES.filter((p) => !p.present());
}

/**
 * Makes sure every program the tests need is here. Returns false (having said what
 * is missing and how to install it) when the tests cannot run.
 */
export function ensurePrerequisites(): boolean {
  let missing = missingPrerequisites();
  if (missing.length === 0) return true;
  const packages = [...new Set(missing.map((p) => p.debianPackage))];
  const install = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  const mayInstall = process.getuid?.() === 0 && onPath('apt-get') && process.env.FERRY_TEST_INSTALL !== 'no';
  if (mayInstall) {
    console.error(`tests: installing what they need from Debian: ${packages.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [
      ['update', '-qq'],
      ['install', '-y', '-qq', '--no-install-recommends', ...packages],
    ]) {
      const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
      if (result.status !== 0) {
        console.error(`tests: apt-get ${args[0]} failed (exit ${result.status ?? result.signal}); run as root: apt-get update && ${install}`);
        return false;
      }
    }
    missing = missingPrerequisites();
    if (missing.length === 0) return true;
  }
  console.error('tests: these programs are missing, so no test ran:');
  for (const p of missing) console.error(`  ${p.program} (${p.why}): apt-get install ${p.debianPackage}`);
  console.error(`tests: install them all as root with: apt-get update && ${install}`);
  return false;
}
