/** A path into a snapshot: ['routes', 2, 'steps', 0]. */
export type SnapshotPath = ReadonlyArray<string | number>;

/** Says where a part of a parsed file came from, for error messages. */
export interface Locator {
  /** E.g. `line 12, <route name="to-bank">` (XML) or `routes[2] "to-bank"` (JSON). */
  where(path: SnapshotPath): string;
  /** A field's name as the file spells it: `catch-up` in XML, `catchUp` in JSON. */
  field(name: string): string;
}

/** An invalid snapshot or one that cannot be applied: the message says where; nothing was changed. */
export class SnapshotError extends Error {}

/** Wraps an error of a validator or store with where in the file its object is. */
export function located(locator: Locator, path: SnapshotPath, err: unknown): SnapshotError {
  if (err instanceof SnapshotError) return err;
  return new SnapshotError(`${locator.where(path)}: ${(err as Error).message ?? String(err)}`);
}

export function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
