import { SnapshotError, type Locator, type SnapshotPath } from './errors.js';
import type { Snapshot } from './model.js';

/** The JSON form is the model itself; the writer keeps the field order collect.ts builds. */
export function snapshotToJson(s: Snapshot): string {
  return JSON.stringify(s, null, 2) + '\n';
}

/** Names a place in a JSON snapshot by its path, with the object's name: `routes[2] ("to-bank").steps[0]`. */
class JsonLocator implements Locator {
  constructor(private readonly raw: unknown) {}

  where(path: SnapshotPath): string {
    if (path.length === 0) return 'the snapshot';
    let text = '';
    let value: any = this.raw;
    path.forEach((part, i) => {
      value = value?.[part];
      text += typeof part === 'number' ? `[${part}]` : `${text ? '.' : ''}${part}`;
      if (i === 1 && typeof value?.name === 'string') text += ` (${JSON.stringify(value.name)})`;
    });
    return text;
  }

  field(name: string): string {
    return name;
  }
}

export function snapshotFromJson(text: string): { raw: unknown; locator: Locator } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SnapshotError(`not valid JSON: ${(err as Error).message}`);
  }
  return { raw, locator: new JsonLocator(raw) };
}
