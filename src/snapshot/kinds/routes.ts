import { RouteStore, routeSteps, validateRoute, type RouteDefinition, type RouteRow } from '../../routing/routes.js';
import type { RouteSpec } from '../model.js';
import type { SnapshotKind } from './kind.js';

function definition(spec: RouteSpec): RouteDefinition {
  const { path, on, then, ...rest } = spec;
  return { ...rest, pathGlob: path, onEvent: on, after: then };
}

/** A route as the snapshot (and `route show --json`) describes it. */
export function routeSpec(row: RouteRow): RouteSpec {
  return {
    name: row.name,
    account: row.account,
    path: row.path_glob,
    on: row.on_event,
    steps: routeSteps(row),
    rename: row.rename,
    then: row.after_delivery,
    enabled: row.enabled === 1,
  };
}

export const routeKind: SnapshotKind<RouteSpec> = {
  key: 'routes',
  noun: 'route',

  read: async (db) => (await new RouteStore(db).list()).map(routeSpec),

  normalize(spec) {
    validateRoute(definition(spec));
    return spec;
  },

  references: (spec) => [
    { kind: 'accounts', name: spec.account },
    ...spec.steps.map((s) => (s.type === 'push' ? { kind: 'partners' as const, name: s.partner } : { kind: 'accounts' as const, name: s.account })),
  ],

  create: async (db, spec) => void (await new RouteStore(db).add(definition(spec))),
  update: (db, spec) => new RouteStore(db).update(definition(spec)),
  remove: (db, name) => new RouteStore(db).remove(name),
};
