import type { Command } from 'commander';
import type { CatchUp } from '../../db/schema.js';
import { CATCH_UP, ScheduleStore, type ScheduleAction } from '../../scheduler/schedules.js';
import { CliError, withDatabase, type GlobalOptions } from '../context.js';
import { scheduleJson } from '../../views/catalog-views.js';
import { registerCatalogCommands } from './catalog.js';
import { parseAccountFolder, parseAfter } from './route.js';

function actionText(a: ScheduleAction): string {
  const folder = `${a.account}${a.dir === '/' ? '' : a.dir}/${a.glob}`;
  return a.type === 'push' ? `push ${folder} -> ${a.partner}` : `pull ${a.partner}/${a.glob} -> ${a.account}${a.dir === '/' ? '' : a.dir}`;
}

interface AddOptions extends GlobalOptions {
  cron: string;
  tz?: string;
  push?: string;
  pull?: string;
  from?: string;
  to?: string;
  path: string;
  rename?: string;
  then?: string;
  catchUp: string;
}

function actionFrom(options: AddOptions): ScheduleAction {
  if (Boolean(options.push) === Boolean(options.pull)) throw new CliError('give exactly one of --push PARTNER or --pull PARTNER');
  if (options.push) {
    if (!options.from || options.to) throw new CliError('--push needs --from ACCOUNT[/DIR] (and no --to)');
    return { type: 'push', partner: options.push, ...parseAccountFolder('--from', options.from), glob: options.path };
  }
  if (!options.to || options.from) throw new CliError('--pull needs --to ACCOUNT[/DIR] (and no --from)');
  return { type: 'pull', partner: options.pull!, ...parseAccountFolder('--to', options.to), glob: options.path };
}

export function registerSchedule(program: Command): void {
  const schedule = program.command('schedule').description('cron schedules that push to or pull from partners (run on the primary)');

  schedule
    .command('add <name>')
    .description('add a schedule')
    .requiredOption('--cron <expr>', "cron expression, 5 fields or 6 with seconds, e.g. '0 2 * * *'")
    .option('--tz <zone>', 'IANA time zone of the expression (default: the node’s)')
    .option('--push <partner>', 'push the files of --from to this partner')
    .option('--from <account[/dir]>', 'where pushed files come from')
    .option('--pull <partner>', "pull the partner's files into --to")
    .option('--to <account[/dir]>', 'where pulled files go')
    .option('--path <glob>', 'which files, by name', '*')
    .option('--rename <pattern>', 'destination name: {name} {base} {ext} {date} {time} (of the firing) {id}')
    .option('--then <action>', 'push: delete or archive the source after delivery; pull: delete the remote file')
    .option('--catch-up <policy>', `firings missed while no primary ran: ${CATCH_UP.join(', ')}`, 'latest')
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: AddOptions) => {
      if (!CATCH_UP.includes(options.catchUp as CatchUp)) throw new CliError(`--catch-up must be one of ${CATCH_UP.join(', ')} (got "${options.catchUp}")`);
      const action = actionFrom(options);
      const after = parseAfter(options.then);
      await withDatabase(options, async ({ db }) => {
        const row = await new ScheduleStore(db).add({
          name,
          cron: options.cron,
          timezone: options.tz ?? null,
          action,
          rename: options.rename ?? null,
          after,
          catchUp: options.catchUp as CatchUp,
        });
        process.stdout.write(`schedule ${row.name} added: ${actionText(action)}, next ${scheduleJson(row).next}\n`);
      });
    });

  registerCatalogCommands(schedule, {
    noun: 'schedule',
    store: (db) => new ScheduleStore(db),
    json: scheduleJson,
    table: {
      header: ['NAME', 'CRON', 'ACTION', 'LAST', 'NEXT'],
      cells: (row) => {
        const r = scheduleJson(row);
        return [r.name, r.cron, actionText(r.action), r.lastSlot ?? '', r.next ?? ''];
      },
    },
    removeHelp: 'remove a schedule (firings already queued still run)',
  });
}
