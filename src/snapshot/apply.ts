import type { Kysely } from 'kysely';
import { isDeepStrictEqual } from 'node:util';
import type { Database } from '../db/schema.js';
import { located, SnapshotError, type Locator, type SnapshotPath } from './errors.js';
import { KINDS } from './kinds/index.js';
import { FieldError, type SnapshotKind } from './kinds/kind.js';
import { NAMED_KINDS, type NamedKind, type Snapshot } from './model.js';
import { readSshHostKeys, validateSshHostKey, writeSshHostKey } from './ssh-host-keys.js';

export interface ApplyOptions {
  /** Work everything out, report it, and roll it all back. */
  dryRun?: boolean;
  /** Also remove the objects the snapshot does not have (the cluster's SSH host keys are never removed). */
  prune?: boolean;
}

/** One object an import creates, updates or removes; `fields` are the snapshot fields an update changes. */
export interface SnapshotChange {
  action: 'create' | 'update' | 'remove';
  kind: string;
  name: string;
  fields?: string[];
}

/** What an import did (or, with dryRun, would do). Documented in docs/cli.md. */
export interface ImportReport {
  dryRun: boolean;
  created: number;
  updated: number;
  removed: number;
  unchanged: number;
  changes: SnapshotChange[];
}

type AnyKind = SnapshotKind<{ name: string }>;
type Specs = Record<NamedKind, Array<{ name: string }>>;

/** Thrown inside the transaction to roll a dry run back. */
class DryRun extends Error {
  constructor(readonly report: ImportReport) {
    super('dry run');
  }
}

function fail(locator: Locator, path: SnapshotPath, err: unknown): never {
  throw err instanceof FieldError ? located(locator, [...path, ...err.path], err) : located(locator, path, err);
}

/** Validates every object without the database and brings it to the canonical form an export writes. */
function normalizeAll(snapshot: Snapshot, locator: Locator): Specs {
  const specs = {} as Specs;
  for (const key of NAMED_KINDS) {
    const kind = KINDS[key] as AnyKind;
    const first = new Map<string, number>();
    specs[key] = snapshot[key].map((spec, i) => {
      const seen = first.get(spec.name);
      if (seen !== undefined)
        throw located(locator, [key, i], new Error(`${kind.noun} "${spec.name}" is given twice (first at ${locator.where([key, seen])})`));
      first.set(spec.name, i);
      try {
        return kind.normalize(spec);
      } catch (err) {
        fail(locator, [key, i], err);
      }
    });
  }
  const algorithms = new Set<string>();
  snapshot.sshHostKeys?.forEach((spec, i) => {
    try {
      validateSshHostKey(spec);
    } catch (err) {
      fail(locator, ['sshHostKeys', i], err);
    }
    if (algorithms.has(spec.algorithm)) throw located(locator, ['sshHostKeys', i], new Error(`host key ${spec.algorithm} is given twice`));
    algorithms.add(spec.algorithm);
  });
  return specs;
}

/** With --prune nothing outside the snapshot survives, so whatever it refers to must be in it. */
function checkReferencesWithin(specs: Specs, locator: Locator): void {
  const names = { accounts: new Set(specs.accounts.map((s) => s.name)), partners: new Set(specs.partners.map((s) => s.name)) };
  for (const key of NAMED_KINDS) {
    const kind = KINDS[key] as AnyKind;
    specs[key].forEach((spec, i) => {
      for (const ref of kind.references?.(spec) ?? []) {
        if (!names[ref.kind].has(ref.name)) {
          const noun = ref.kind === 'accounts' ? 'account' : 'partner';
          throw located(locator, [key, i], new Error(`${noun} "${ref.name}" is not in the snapshot, and --prune would remove it`));
        }
      }
    });
  }
}

function changedFields(current: object, next: object): string[] {
  const keys = new Set([...Object.keys(current), ...Object.keys(next)]);
  return [...keys].filter((k) => !isDeepStrictEqual((current as any)[k], (next as any)[k]));
}

/**
 * Applies a snapshot in one transaction: objects are matched by name, created
 * or updated in place, and (with prune) removed; an error anywhere rolls
 * everything back. Applying the same snapshot again changes nothing.
 */
export async function applySnapshot(db: Kysely<Database>, snapshot: Snapshot, locator: Locator, options: ApplyOptions = {}): Promise<ImportReport> {
  const specs = normalizeAll(snapshot, locator);
  if (options.prune) checkReferencesWithin(specs, locator);
  const report: ImportReport = { dryRun: options.dryRun ?? false, created: 0, updated: 0, removed: 0, unchanged: 0, changes: [] };
  const record = (change: SnapshotChange) => {
    report.changes.push(change);
    report[change.action === 'create' ? 'created' : change.action === 'update' ? 'updated' : 'removed']++;
  };
  try {
    await db.transaction().execute(async (trx) => {
      const existing = {} as Record<NamedKind, Map<string, { name: string }>>;
      for (const key of NAMED_KINDS) {
        const kind = KINDS[key] as AnyKind;
        existing[key] = new Map((await kind.read(trx)).map((s) => [s.name, s]));
        for (const [i, spec] of specs[key].entries()) {
          const current = existing[key].get(spec.name);
          try {
            const wanted = kind.resolve ? kind.resolve(spec, current) : spec;
            if (!current) {
              await kind.create(trx, wanted);
              record({ action: 'create', kind: kind.noun, name: spec.name });
              continue;
            }
            const fields = changedFields(current, wanted);
            if (fields.length === 0) {
              report.unchanged++;
              continue;
            }
            await kind.update(trx, wanted, current);
            record({ action: 'update', kind: kind.noun, name: spec.name, fields });
          } catch (err) {
            fail(locator, [key, i], err);
          }
        }
      }
      if (options.prune) {
        // Dependants first: routes, schedules and monitors before the partners and accounts they use.
        for (const key of [...NAMED_KINDS].reverse()) {
          const kind = KINDS[key] as AnyKind;
          const keep = new Set(specs[key].map((s) => s.name));
          for (const name of [...existing[key].keys()].filter((n) => !keep.has(n)).sort()) {
            await kind.remove(trx, name);
            record({ action: 'remove', kind: kind.noun, name });
          }
        }
      }
      if (snapshot.sshHostKeys) {
        const current = new Map((await readSshHostKeys(trx)).map((k) => [k.algorithm, k.privateKey]));
        for (const spec of snapshot.sshHostKeys) {
          if (current.get(spec.algorithm) === spec.privateKey) {
            report.unchanged++;
            continue;
          }
          await writeSshHostKey(trx, spec);
          record({ action: current.has(spec.algorithm) ? 'update' : 'create', kind: 'ssh-host-key', name: spec.algorithm });
        }
      }
      if (report.dryRun) throw new DryRun(report);
    });
  } catch (err) {
    if (err instanceof DryRun) return err.report;
    if (err instanceof SnapshotError) throw err;
    throw new SnapshotError(`the import failed and changed nothing: ${(err as Error).message}`);
  }
  return report;
}
