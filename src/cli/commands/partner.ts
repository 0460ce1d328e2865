import fs from 'node:fs';
import type { Command } from 'commander';
import { PartnerStore, parseHeader, parseHostKey, parseHttpsUrl, parseSftpUrl, type PartnerSettings, validatePrivateKey } from '../../routing/partners.js';
import { CliError, passwordFromStdin, withDatabase, type GlobalOptions } from '../context.js';
import { partnerJson } from '../../views/catalog-views.js';
import { registerCatalogCommands } from './catalog.js';

function readFile(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

/** A partner's login key: an unencrypted OpenSSH or PEM private key. */
function readPrivateKey(file: string): string {
  const text = readFile(file, 'key file');
  try {
    validatePrivateKey(text);
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
  return text;
}

/** The partner's host key from a .pub file or a known_hosts line: the wire-format blob, base64. */
function readHostKey(file: string): string {
  const text = readFile(file, 'host key file');
  let blob: string | undefined;
  try {
    blob = parseHostKey(text);
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
  if (!blob) throw new CliError(`${file}: no SSH host key found (give a .pub file or a known_hosts line)`);
  return blob;
}

const collect = (value: string, previous: string[]) => [...previous, value];

interface AddOptions extends GlobalOptions {
  url: string;
  key?: string;
  passwordStdin?: boolean;
  hostKey?: string;
  header: string[];
  ca?: string;
  method: string;
}

function settingsFrom(options: AddOptions, password: string | undefined): PartnerSettings {
  if (!/^(sftp|https):\/\//i.test(options.url))
    throw new CliError(`--url must be sftp://USER@HOST[:PORT]/DIR or https://HOST[:PORT]/PATH (got "${options.url}")`);
  if (options.url.startsWith('sftp:')) {
    if (options.header.length > 0 || options.ca) throw new CliError('--header and --ca are for https:// partners');
    if (options.key && password) throw new CliError('give either --key or --password-stdin, not both');
    if (!options.key && !password) throw new CliError('an sftp:// partner needs --key FILE or --password-stdin');
    return {
      protocol: 'sftp',
      ...parseSftpUrl(options.url),
      ...(password ? { password } : {}),
      ...(options.key ? { privateKey: readPrivateKey(options.key) } : {}),
      ...(options.hostKey ? { hostKey: readHostKey(options.hostKey) } : {}),
    };
  }
  if (options.key || password || options.hostKey) throw new CliError('--key, --password-stdin and --host-key are for sftp:// partners');
  const method = options.method.toUpperCase();
  if (method !== 'PUT' && method !== 'POST') throw new CliError(`--method must be put or post (got "${options.method}")`);
  return {
    protocol: 'https',
    url: parseHttpsUrl(options.url),
    method,
    headers: Object.fromEntries(options.header.map(parseHeader)),
    ...(options.ca ? { ca: readFile(options.ca, 'CA file') } : {}),
  };
}

export function registerPartner(program: Command): void {
  const partner = program.command('partner').description('partners that routes deliver files to');

  partner
    .command('add <name>')
    .description('add a partner: sftp://USER@HOST:PORT/DIR or https://HOST[:PORT]/PATH')
    .requiredOption('--url <url>', 'where files go')
    .option('--key <file>', 'sftp: private key to log in with')
    .option('--password-stdin', 'sftp: read the password from standard input')
    .option('--host-key <file>', "sftp: the partner's host key (.pub or known_hosts line); pinned at first contact if omitted")
    .option('--header <header>', "https: 'Name: value' sent with every request (repeatable)", collect, [])
    .option('--ca <file>', 'https: extra CA certificate (PEM) to trust; TLS is always verified')
    .option('--method <method>', 'https: put (to URL/NAME) or post (multipart to URL)', 'put')
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: AddOptions) => {
      const password = options.passwordStdin ? await passwordFromStdin() : undefined;
      const settings = settingsFrom(options, password);
      await withDatabase(options, async ({ db }) => {
        const row = await new PartnerStore(db).add(name, settings);
        process.stdout.write(`partner ${row.name} added (${row.url})\n`);
      });
    });

  registerCatalogCommands(partner, {
    noun: 'partner',
    store: (db) => new PartnerStore(db),
    json: partnerJson,
    table: { header: ['NAME', 'PROTOCOL', 'URL'], cells: (r) => [r.name, r.protocol, r.url] },
    removeHelp: 'remove a partner no route or schedule uses',
  });
}
