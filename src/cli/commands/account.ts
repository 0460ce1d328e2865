import fs from 'node:fs';
import type { Command } from 'commander';
import { AccountStore } from '../../accounts/account-store.js';
import { parseAllowFrom } from '../../accounts/allow-from.js';
import { parsePublicKey, type ParsedPublicKey } from '../../accounts/public-key.js';
import { accountJson } from '../../views/account-view.js';
import { CliError, passwordFromStdin, printJson, printTable, withDatabase, type GlobalOptions } from '../context.js';

function readKeyFile(file: string): ParsedPublicKey {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read key file ${file}: ${(err as Error).message}`);
  }
  try {
    return parsePublicKey(text);
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerAccount(program: Command): void {
  const account = program.command('account').description('manage accounts that log in over SFTP');

  account
    .command('add <name>')
    .description('create an account')
    .option('--password-stdin', 'read the password from standard input')
    .option('--key <file>', 'an OpenSSH public key file (repeatable)', collect, [])
    .option('--home <dir>', 'home directory relative to storage.dir (default: the account name)')
    .option('--allow-from <cidr>', 'a network logins may come from, e.g. 192.0.2.0/24 (repeatable; default: any address)', collect, [])
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: GlobalOptions & { passwordStdin?: boolean; key: string[]; home?: string; allowFrom: string[] }) => {
      const keys = options.key.map(readKeyFile);
      // Checked before the password is read, so a typo costs nothing.
      if (options.allowFrom.length > 0) parseAllowFrom(options.allowFrom);
      const password = options.passwordStdin ? await passwordFromStdin() : undefined;
      if (password === undefined && keys.length === 0) {
        throw new CliError('an account needs --password-stdin or at least one --key');
      }
      await withDatabase(options, async ({ db }) => {
        await new AccountStore(db).add({ name, password, keys, home: options.home, allowFrom: options.allowFrom });
      });
      process.stdout.write(`account ${name} created\n`);
    });

  account
    .command('list')
    .description('list accounts')
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'YAML configuration file')
    .action(async (options: GlobalOptions & { json?: boolean }) => {
      await withDatabase(options, async ({ db }) => {
        const store = new AccountStore(db);
        const accounts = await store.list();
        const withKeys = await Promise.all(accounts.map(async (a) => accountJson(a, await store.keysOf(a.id))));
        if (options.json) return printJson(withKeys);
        printTable(
          ['NAME', 'STATE', 'PASSWORD', 'KEYS', 'HOME'],
          withKeys.map((a) => [a.name, a.state, a.password ? 'yes' : 'no', String(a.keys.length), a.home]),
        );
      });
    });

  account
    .command('show <name>')
    .description('show one account, its keys and its lockout state')
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: GlobalOptions & { json?: boolean }) => {
      await withDatabase(options, async ({ db }) => {
        const store = new AccountStore(db);
        const row = await store.require(name);
        const a = accountJson(row, await store.keysOf(row.id));
        if (options.json) return printJson(a);
        const lines = [
          `name:           ${a.name}`,
          `state:          ${a.state}`,
          `home:           ${a.home}`,
          `password:       ${a.password ? 'set' : 'none'}`,
          `created:        ${a.created}`,
          `updated:        ${a.updated}`,
          `failed logins:  ${a.lockout.recentFailures}${a.lockout.lastFailure ? ` (last ${a.lockout.lastFailure} from ${a.lockout.lastFailureAddress})` : ''}`,
          `locked until:   ${a.lockout.lockedUntil ?? '-'}`,
          `allowed from:   ${a.allowFrom === null ? 'any address' : a.allowFrom.join(' ')}`,
          `keys:           ${a.keys.length === 0 ? '-' : ''}`,
          ...a.keys.map((k) => `  ${k.algorithm} ${k.fingerprint}${k.comment ? ' ' + k.comment : ''}`),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      });
    });

  account
    .command('passwd <name>')
    .description("set an account's password (read from standard input)")
    .option('--password-stdin', 'read the password from standard input (the default)')
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: GlobalOptions) => {
      const password = await passwordFromStdin();
      await withDatabase(options, ({ db }) => new AccountStore(db).setPassword(name, password));
      process.stdout.write(`password of ${name} changed\n`);
    });

  account
    .command('allow-from <name> [cidr...]')
    .description('set the networks an account may log in from (replaces the list), or --any')
    .option('--any', 'allow logins from any address (removes the list)')
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, cidrs: string[], options: GlobalOptions & { any?: boolean }) => {
      if (Boolean(options.any) === cidrs.length > 0) throw new CliError('give either the networks (e.g. 192.0.2.0/24 2001:db8::/32) or --any');
      const allowFrom = await withDatabase(options, ({ db }) => new AccountStore(db).setAllowFrom(name, options.any ? null : cidrs));
      process.stdout.write(`account ${name} accepts logins from ${allowFrom === null ? 'any address' : allowFrom.join(' ')}\n`);
    });

  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    account
      .command(`${verb} <name>`)
      .description(disabled ? 'refuse new logins of an account' : 'allow logins again (also lifts a lockout)')
      .option('--config <file>', 'YAML configuration file')
      .action(async (name: string, options: GlobalOptions) => {
        await withDatabase(options, ({ db }) => new AccountStore(db).setDisabled(name, disabled));
        process.stdout.write(`account ${name} ${verb}d\n`);
      });
  }

  account
    .command('remove <name>')
    .description('delete an account and its keys (its files stay on storage)')
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: GlobalOptions) => {
      await withDatabase(options, ({ db }) => new AccountStore(db).remove(name));
      process.stdout.write(`account ${name} removed\n`);
    });
}
