import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The node's stable id, created once and kept in its own data directory. */
export function loadNodeId(dataDir: string): string {
  const file = path.join(dataDir, 'node-id');
  try {
    const id = fs.readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f-]{36}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const id = crypto.randomUUID();
  fs.writeFileSync(file + '.tmp', id + '\n');
  fs.renameSync(file + '.tmp', file);
  return id;
}
