import { MonitorStore, validateMonitor, type MonitorDefinition, type MonitorRow } from '../../monitor/monitors.js';
import type { MonitorSpec } from '../model.js';
import type { SnapshotKind } from './kind.js';

function definition(spec: MonitorSpec): MonitorDefinition {
  const { path, stableSeconds, ...rest } = spec;
  return { ...rest, glob: path, stableMs: Math.round(stableSeconds * 1000) };
}

/** A folder monitor as the snapshot (and `monitor show --json`) describes it. */
export function monitorSpec(row: MonitorRow): MonitorSpec {
  return {
    name: row.name,
    account: row.account,
    dir: row.dir,
    path: row.path_glob,
    stableSeconds: Number(row.stable_ms) / 1000,
    enabled: row.enabled === 1,
  };
}

/** Folder monitors; the file versions each has seen are run state and stay as they are. */
export const monitorKind: SnapshotKind<MonitorSpec> = {
  key: 'monitors',
  noun: 'monitor',

  read: async (db) => (await new MonitorStore(db).list()).map(monitorSpec),

  normalize(spec) {
    const def = definition(spec);
    validateMonitor(def);
    return { ...spec, stableSeconds: def.stableMs / 1000 };
  },

  references: (spec) => [{ kind: 'accounts', name: spec.account }],

  create: async (db, spec) => void (await new MonitorStore(db).add(definition(spec))),
  update: (db, spec) => new MonitorStore(db).update(definition(spec)),
  remove: (db, name) => new MonitorStore(db).remove(name),
};
