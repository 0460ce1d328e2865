import { MonitorStore, validateMonitor, type MonitorDefinition } from '../../monitor/monitors.js';
import type { MonitorSpec } from '../model.js';
import type { SnapshotKind } from './kind.js';

function definition(spec: MonitorSpec): MonitorDefinition {
  const { path, stableSeconds, ...rest } = spec;
  return { ...rest, glob: path, stableMs: Math.round(stableSeconds * 1000) };
}

/** Folder monitors; the file versions each has seen are run state and stay as they are. */
export const monitorKind: SnapshotKind<MonitorSpec> = {
  key: 'monitors',
  noun: 'monitor',

  async read(db) {
    return (await new MonitorStore(db).list()).map((row) => ({
      name: row.name,
      account: row.account,
      dir: row.dir,
      path: row.path_glob,
      stableSeconds: Number(row.stable_ms) / 1000,
      enabled: row.enabled === 1,
    }));
  },

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
