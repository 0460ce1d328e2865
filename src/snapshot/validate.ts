import type { z } from 'zod';
import { SnapshotError, type Locator } from './errors.js';
import { snapshotSchema, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type Snapshot } from './model.js';

function describe(issue: z.core.$ZodIssue, locator: Locator): string {
  const last = issue.path[issue.path.length - 1];
  const field = typeof last === 'string' ? locator.field(last) : 'this entry';
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? `${field} is missing` : `${field} must be ${issue.expected === 'object' ? 'an object' : `a ${issue.expected}`}`;
    case 'invalid_value':
      return `${field} must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}${issue.input !== undefined ? ` (got ${JSON.stringify(issue.input)})` : ''}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => locator.field(k)).join(', ')}`;
    case 'invalid_union':
      if (issue.discriminator && 'options' in issue && issue.options) {
        return `${locator.field(issue.discriminator)} must be ${issue.options.map((v) => JSON.stringify(v)).join(' or ')}`;
      }
      // The only other union is a credential: its text, or marked as left out.
      return `${field} must be text or marked omitted`;
    default:
      return `${field}: ${issue.message}`;
  }
}

/** Checks the shape of a parsed file and fills defaults; the first problem is reported, with where it is. */
export function validateSnapshot(raw: unknown, locator: Locator): Snapshot {
  const root = raw as Record<string, unknown> | null;
  if (typeof root !== 'object' || root === null || root.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotError(`not a Ferry snapshot: expected "format": "${SNAPSHOT_FORMAT}"`);
  }
  if (root.version !== SNAPSHOT_VERSION)
    throw new SnapshotError(`unsupported snapshot version ${JSON.stringify(root.version)}: this Ferry reads version ${SNAPSHOT_VERSION}`);
  const result = snapshotSchema.safeParse(raw, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new SnapshotError(`${locator.where(issue.path as Array<string | number>)}: ${describe(issue, locator)}`);
}
