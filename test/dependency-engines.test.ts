import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
  dev?: boolean;
}

describe('dependencies and the Node.js we run on', () => {
  it('every locked package accepts the Node.js version our engines field promises', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
    const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> };
    // The oldest Node.js our own engines field admits, and the one running the tests:
    // npm warns EBADENGINE (and a package may fail at run time) when either is refused.
    const oldest = semver.minVersion(manifest.engines.node)!.version;
    const refused: string[] = [];
    for (const [where, pkg] of Object.entries(lock.packages)) {
      const range = pkg.engines && !Array.isArray(pkg.engines) ? pkg.engines.node : undefined;
      if (!where || !range) continue;
      for (const node of [oldest, process.versions.node]) {
        if (!semver.satisfies(node, range, { includePrerelease: true })) refused.push(`${where}@${pkg.version} needs node ${range}, not ${node}`);
      }
    }
    assert.deepEqual(refused, []);
  });
});
