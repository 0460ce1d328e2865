import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { SnapshotPath } from '../errors.js';
import type { NamedKind } from '../model.js';

/** An error in one part of an object: `path` leads from the object to it (e.g. ['keys', 1]). */
export class FieldError extends Error {
  constructor(
    readonly path: SnapshotPath,
    message: string,
  ) {
    super(message);
  }
}

/** A reference from one object to another, which an import checks exists. */
export interface Reference {
  kind: 'accounts' | 'partners';
  name: string;
}

/**
 * One kind of named object in a snapshot and how it meets the database. Specs
 * read from the database and specs normalized from a file have the same form, so
 * comparing them field by field tells what an import changes.
 */
export interface SnapshotKind<Spec extends { name: string }> {
  key: NamedKind;
  /** The object's name in messages: "account", "route", … */
  noun: string;
  /** Every object in the database, secrets included. */
  read(db: Kysely<Database>): Promise<Spec[]>;
  /** The spec without its credentials, for an export without --with-secrets. */
  redact?(spec: Spec): Spec;
  /** Validates what needs no database; returns the canonical form (the one `read` gives). Throws FieldError or Error. */
  normalize(spec: Spec): Spec;
  /** Fills what the file left out (credentials it omits) from the object in the database. */
  resolve?(spec: Spec, current: Spec | undefined): Spec;
  references?(spec: Spec): Reference[];
  create(db: Kysely<Database>, spec: Spec): Promise<void>;
  update(db: Kysely<Database>, spec: Spec, current: Spec): Promise<void>;
  remove(db: Kysely<Database>, name: string): Promise<void>;
}

/** Sorts by name in code-unit order: the same on every database and locale. */
export function byName<T extends { name: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
