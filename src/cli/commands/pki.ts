import type { Command } from 'commander';
import { PkiError } from '../../pki/errors.js';
import { CliError, printJson } from '../context.js';

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** The PKI module loads the X.509 library (and its reflect-metadata polyfill): only when a pki command runs. */
const loadPki = () => import('../../pki/certificate-authority.js');

async function refusals<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof PkiError) throw new CliError(err.message);
    throw err;
  }
}

function parseDays(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new CliError(`--days must be a whole number of days (got "${text}")`);
  return Number(text);
}

export function registerPki(program: Command): void {
  const pki = program.command('pki').description('make the CA and certificates for the mutual TLS of edge tunnels');

  pki
    .command('init <dir>')
    .description('create a CA in DIR: ca.crt and ca.key (refuses if DIR already holds one)')
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'YAML configuration file (pki reads no settings)')
    .action(async (dir: string, options: { json?: boolean }) => {
      const ca = await refusals(async () => (await loadPki()).initCa(dir));
      if (options.json) return printJson({ certificate: ca.certificate, key: ca.key });
      process.stdout.write(`CA created: ${ca.certificate} (give to every node and edge as tls.ca), ${ca.key} (keep it offline)\n`);
    });

  pki
    .command('issue <role> <name>')
    .description('issue a certificate for a node (client) or an edge (server), signed by the CA in --dir')
    .requiredOption('--dir <dir>', 'the directory holding the CA; NAME.crt and NAME.key are written there')
    .option('--host <host>', 'a DNS name or IP address for subjectAltName (repeatable; default: NAME)', collect)
    .option('--days <n>', 'validity in days (default 730)')
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'YAML configuration file (pki reads no settings)')
    .action(async (role: string, name: string, options: { dir: string; host?: string[]; days?: string; json?: boolean }) => {
      const days = parseDays(options.days);
      const issued = await refusals(async () => (await loadPki()).issue(options.dir, role, name, { hosts: options.host, days }));
      const json = {
        role: issued.role,
        name: issued.name,
        certificate: issued.certificate,
        key: issued.key,
        ca: issued.ca,
        hosts: issued.hosts.map((h) => h.value),
        notAfter: issued.notAfter.toISOString(),
      };
      if (options.json) return printJson(json);
      process.stdout.write(
        `${issued.role} certificate issued: ${issued.certificate}, ${issued.key} (CN ${issued.name}, ` +
          `hosts ${json.hosts.join(', ')}, valid until ${json.notAfter})\n`,
      );
    });
}
