import picomatch from 'picomatch';
import type { Kysely, Selectable } from 'kysely';
import type { AfterDelivery, Database, RouteEvent, RoutesTable } from '../db/schema.js';
import { PartnerError, validateName } from './partners.js';
import { validateRenamePattern } from './rename-pattern.js';

export type RouteRow = Selectable<RoutesTable>;

/** One delivery a route makes, in order: push to a partner, or copy into an account's folder. */
export type DeliveryStep = { type: 'push'; partner: string } | { type: 'copy'; account: string; dir: string };

export interface RouteDefinition {
  name: string;
  account: string;
  /** Matched against the path inside the home without its leading '/'; a glob without '/' matches the file name. */
  pathGlob: string;
  onEvent: RouteEvent;
  steps: DeliveryStep[];
  rename: string | null;
  after: AfterDelivery | null;
  /** Defaults to true. */
  enabled?: boolean;
}

export function routeSteps(row: Pick<RouteRow, 'action'>): DeliveryStep[] {
  return (JSON.parse(row.action) as { steps: DeliveryStep[] }).steps;
}

export function globMatcher(glob: string): (virtualPath: string) => boolean {
  const match = picomatch(glob, { dot: true, basename: !glob.includes('/') });
  return (virtualPath) => match(virtualPath.replace(/^\/+/, ''));
}

export function validateGlob(glob: string): void {
  if (!glob || glob.includes('\0')) throw new PartnerError(`invalid path glob "${glob}"`);
  try {
    picomatch.makeRe(glob);
  } catch (err) {
    throw new PartnerError(`invalid path glob "${glob}": ${(err as Error).message}`);
  }
}

/** What can be checked of a route without the database. */
export function validateRoute(route: RouteDefinition): void {
  validateName('route', route.name);
  validateGlob(route.pathGlob);
  if (route.steps.length === 0) throw new PartnerError('a route needs at least one --push or --copy-to');
  for (const step of route.steps) if (step.type === 'copy') validateFolder(step.dir);
  if (route.rename !== null) validateRenamePattern(route.rename);
}

/** A folder inside an account's home, as /DIR. */
export function validateFolder(dir: string): void {
  if (!dir.startsWith('/') || dir.includes('\0') || dir.split('/').includes('..')) {
    throw new PartnerError(`invalid folder "${dir}": give a path inside the account's home, like /inbox`);
  }
}

/** Validates a route and that the account and partners it names exist. */
async function checkRoute(db: Kysely<Database>, route: RouteDefinition): Promise<void> {
  validateRoute(route);
  await requireAccount(db, route.account);
  for (const step of route.steps) {
    if (step.type === 'push') await requirePartner(db, step.partner);
    else await requireAccount(db, step.account);
  }
}

export async function requireAccount(db: Kysely<Database>, name: string): Promise<void> {
  if (!(await db.selectFrom('accounts').select('id').where('name', '=', name).executeTakeFirst())) {
    throw new PartnerError(`no account named "${name}"`);
  }
}

export async function requirePartner(db: Kysely<Database>, name: string): Promise<void> {
  if (!(await db.selectFrom('partners').select('id').where('name', '=', name).executeTakeFirst())) {
    throw new PartnerError(`no partner named "${name}"`);
  }
}

function routeColumns(route: RouteDefinition) {
  return {
    account: route.account,
    path_glob: route.pathGlob,
    on_event: route.onEvent,
    action: JSON.stringify({ steps: route.steps }),
    rename: route.rename,
    after_delivery: route.after,
    enabled: route.enabled === false ? 0 : 1,
  };
}

/** Routes live in the database, shared by every node. */
export class RouteStore {
  constructor(private readonly db: Kysely<Database>) {}

  async add(route: RouteDefinition): Promise<RouteRow> {
    await checkRoute(this.db, route);
    if (await this.find(route.name)) throw new PartnerError(`route "${route.name}" already exists`);
    return this.db
      .insertInto('routes')
      .values({ name: route.name, ...routeColumns(route), created_at: Date.now() })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Replaces everything but the name and creation time of an existing route. */
  async update(route: RouteDefinition): Promise<void> {
    await checkRoute(this.db, route);
    const result = await this.db.updateTable('routes').set(routeColumns(route)).where('name', '=', route.name).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new PartnerError(`no route named "${route.name}"`);
  }

  find(name: string): Promise<RouteRow | undefined> {
    return this.db.selectFrom('routes').selectAll().where('name', '=', name).executeTakeFirst();
  }

  list(): Promise<RouteRow[]> {
    return this.db.selectFrom('routes').selectAll().orderBy('name').execute();
  }

  async remove(name: string): Promise<void> {
    const result = await this.db.deleteFrom('routes').where('name', '=', name).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw new PartnerError(`no route named "${name}"`);
  }
}

/** The enabled routes of one account and event whose glob matches the path. */
export async function matchingRoutes(db: Kysely<Database>, account: string, event: RouteEvent, virtualPath: string): Promise<RouteRow[]> {
  const rows = await db
    .selectFrom('routes')
    .selectAll()
    .where('account', '=', account)
    .where('on_event', '=', event)
    .where('enabled', '=', 1)
    .orderBy('id')
    .execute();
  return rows.filter((r) => globMatcher(r.path_glob)(virtualPath));
}
