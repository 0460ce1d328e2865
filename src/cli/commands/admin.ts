import crypto from 'node:crypto';
import type { Command } from 'commander';
import { AdminUsers, parseRole, type AdminUserRow } from '../../accounts/admin-users.js';
import { isoTime, passwordFromStdin, printJson, printTable, withDatabase, type GlobalOptions } from '../context.js';

/** The stable JSON shape of an admin user (docs/cli.md). */
function adminJson(user: AdminUserRow) {
  return { name: user.name, role: user.role, disabled: Boolean(user.disabled), created: isoTime(user.created_at), updated: isoTime(user.updated_at) };
}

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('manage users of the REST API and web console');

  admin
    .command('add <name>')
    .description('create an admin user (without --password-stdin a password is generated and printed once)')
    .requiredOption('--role <role>', 'admin (may change things) or operator (reads and resubmits)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: GlobalOptions & { role: string; passwordStdin?: boolean }) => {
      const role = parseRole(options.role);
      const generated = options.passwordStdin ? undefined : crypto.randomBytes(18).toString('base64url');
      const password = generated ?? (await passwordFromStdin());
      await withDatabase(options, ({ db }) => new AdminUsers(db).add(name, role, password));
      process.stdout.write(`admin user ${name} created with role ${role}\n`);
      if (generated) process.stdout.write(`password: ${generated}\n`);
    });

  admin
    .command('list')
    .description('list admin users')
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'YAML configuration file')
    .action(async (options: GlobalOptions & { json?: boolean }) => {
      const users = await withDatabase(options, ({ db }) => new AdminUsers(db).list());
      if (options.json) return printJson(users.map(adminJson));
      printTable(
        ['NAME', 'ROLE', 'STATE', 'CREATED'],
        users.map((u) => [u.name, u.role, u.disabled ? 'disabled' : 'enabled', isoTime(u.created_at) ?? '']),
      );
    });

  admin
    .command('passwd <name>')
    .description("set an admin user's password (ends the user's sessions and tokens)")
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: GlobalOptions) => {
      const password = await passwordFromStdin();
      await withDatabase(options, ({ db }) => new AdminUsers(db).setPassword(name, password));
      process.stdout.write(`password of admin user ${name} changed\n`);
    });

  admin
    .command('remove <name>')
    .description('remove an admin user and end its sessions and tokens')
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: GlobalOptions) => {
      await withDatabase(options, ({ db }) => new AdminUsers(db).remove(name));
      process.stdout.write(`admin user ${name} removed\n`);
    });
}
