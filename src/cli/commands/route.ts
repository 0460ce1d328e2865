import type { Command } from 'commander';
import type { AfterDelivery, RouteEvent } from '../../db/schema.js';
import { RouteStore, routeSteps, type DeliveryStep } from '../../routing/routes.js';
import { CliError, withDatabase, type GlobalOptions } from '../context.js';
import { routeJson } from '../../views/catalog-views.js';
import { registerCatalogCommands } from './catalog.js';

/** ACCOUNT[/DIR] of --copy-to, --from and --to. */
export function parseAccountFolder(flag: string, text: string): { account: string; dir: string } {
  const at = text.indexOf('/');
  const account = at < 0 ? text : text.slice(0, at);
  if (!account) throw new CliError(`${flag} needs ACCOUNT[/DIR] (got "${text}")`);
  return { account, dir: at < 0 ? '/' : text.slice(at) || '/' };
}

function parseCopyTarget(text: string): DeliveryStep {
  return { type: 'copy', ...parseAccountFolder('--copy-to', text) };
}

export function parseAfter(value: string | undefined): AfterDelivery | null {
  if (value === undefined) return null;
  if (value !== 'delete' && value !== 'archive') throw new CliError(`--then must be delete or archive (got "${value}")`);
  return value;
}

export function stepsText(steps: DeliveryStep[]): string {
  return steps.map((s) => (s.type === 'push' ? `push ${s.partner}` : `copy ${s.account}${s.dir === '/' ? '' : s.dir}`)).join(', ');
}

export function registerRoute(program: Command): void {
  const route = program.command('route').description('routes: what happens to files that arrive');
  // --push and --copy-to run in the order given on the command line.
  const steps: DeliveryStep[] = [];

  route
    .command('add <name>')
    .description('add a route: when a file arrives in ACCOUNT matching GLOB, deliver it')
    .requiredOption('--account <name>', 'the account whose files this route takes')
    .option('--path <glob>', "which files: a glob on the path inside the home (without '/': on the file name)", '**')
    .option('--push <partner>', 'push to a partner (repeatable, in order)', (p: string) => void steps.push({ type: 'push', partner: p }))
    .option('--copy-to <account[/dir]>', "copy into another account's folder (repeatable, in order)", (t: string) => void steps.push(parseCopyTarget(t)))
    .option('--rename <pattern>', 'destination name: {name} {base} {ext} {date} {time} {id}')
    .option('--then <action>', 'after every delivery succeeded: delete or archive the source')
    .option('--on <event>', 'upload (a client finished an upload) or monitor (a folder monitor found the file)', 'upload')
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: GlobalOptions & { account: string; path: string; rename?: string; then?: string; on: string }) => {
      if (options.on !== 'upload' && options.on !== 'monitor') throw new CliError(`--on must be upload or monitor (got "${options.on}")`);
      const after = parseAfter(options.then);
      await withDatabase(options, async ({ db }) => {
        const row = await new RouteStore(db).add({
          name,
          account: options.account,
          pathGlob: options.path,
          onEvent: options.on as RouteEvent,
          steps,
          rename: options.rename ?? null,
          after,
        });
        process.stdout.write(`route ${row.name} added: ${row.account} ${row.path_glob} -> ${stepsText(steps)}\n`);
      });
    });

  registerCatalogCommands(route, {
    noun: 'route',
    store: (db) => new RouteStore(db),
    json: routeJson,
    table: {
      header: ['NAME', 'ACCOUNT', 'ON', 'PATH', 'STEPS', 'THEN'],
      cells: (r) => [r.name, r.account, r.on_event, r.path_glob, stepsText(routeSteps(r)), r.after_delivery ?? ''],
    },
    removeHelp: 'remove a route (work already queued still runs)',
  });
}
