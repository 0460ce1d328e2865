import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { applySnapshot, type ApplyOptions, type ImportReport } from './apply.js';
import { collectSnapshot, type CollectOptions } from './collect.js';
import { SnapshotError } from './errors.js';
import { snapshotFromJson, snapshotToJson } from './json.js';
import { validateSnapshot } from './validate.js';
import { snapshotFromXml, snapshotToXml } from './xml.js';

export { SnapshotError } from './errors.js';
export type { ImportReport, SnapshotChange } from './apply.js';

export type SnapshotFormat = 'xml' | 'json';
export const SNAPSHOT_FORMATS: SnapshotFormat[] = ['xml', 'json'];

/**
 * The configuration in the database as a snapshot document. Deterministic: the
 * same configuration gives the same bytes, whatever database it is read from.
 */
export async function exportSnapshot(db: Kysely<Database>, format: SnapshotFormat, options: CollectOptions = {}): Promise<string> {
  const snapshot = await collectSnapshot(db, options);
  return format === 'xml' ? snapshotToXml(snapshot) : snapshotToJson(snapshot);
}

/** XML or JSON, told apart by the first character. */
export function snapshotFormatOf(text: string): SnapshotFormat {
  const first = text.replace(/^\uFEFF/, '').trimStart()[0];
  if (first === '<') return 'xml';
  if (first === '{') return 'json';
  throw new SnapshotError('not a snapshot: expected XML (<ferry-snapshot version="1">) or JSON ({"format": "ferry-snapshot", …})');
}

/** Applies a snapshot document (see applySnapshot); an invalid one throws SnapshotError, naming where, and changes nothing. */
export async function importSnapshot(db: Kysely<Database>, text: string, options: ApplyOptions = {}): Promise<ImportReport> {
  const body = text.replace(/^\uFEFF/, '');
  const { raw, locator } = snapshotFormatOf(body) === 'xml' ? snapshotFromXml(body) : snapshotFromJson(body);
  return applySnapshot(db, validateSnapshot(raw, locator), locator, options);
}
