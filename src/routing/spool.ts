import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Leadership, SingletonService } from '../cluster/coordinator.js';
import type { Database } from '../db/schema.js';

/**
 * The spool pins the exact file version a delivery sends: at enqueue time the
 * file gets a second name, <storage>/.spool/<job id> (a hard link: no copy, same
 * file system). A later upload, delete or archive of the path, by a client or by
 * another route, leaves the delivery's bytes alone, and a resubmitted failure
 * still has them. Links of jobs that completed or never committed are swept.
 */
export function spoolDir(storageDir: string): string {
  return path.join(storageDir, '.spool');
}

export function spoolPath(storageDir: string, jobId: number): string {
  return path.join(spoolDir(storageDir), String(jobId));
}

/** Links the file at `realPath` as the version job `jobId` delivers. */
export function pinVersion(storageDir: string, jobId: number, realPath: string): void {
  const target = spoolPath(storageDir, jobId);
  fs.mkdirSync(spoolDir(storageDir), { recursive: true });
  // A link left by a transaction that rolled back (SQLite can hand its id out again).
  fs.rmSync(target, { force: true });
  fs.linkSync(realPath, target);
}

const SWEEP_AFTER_MS = 60_000;

/** The primary's sweep: removes spool links whose job completed, was purged, or never committed. */
export class SpoolSweeper implements SingletonService {
  readonly name = 'spool-sweeper';
  readonly intervalMs = SWEEP_AFTER_MS;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly storageDir: string,
  ) {}

  async run(_leadership: Leadership): Promise<void> {
    let names: string[];
    try {
      names = fs.readdirSync(spoolDir(this.storageDir));
    } catch {
      return;
    }
    const cutoff = Date.now() - SWEEP_AFTER_MS;
    for (let i = 0; i < names.length; i += 500) {
      const batch = names.slice(i, i + 500).filter((n) => /^\d+$/.test(n));
      if (batch.length === 0) continue;
      const live = await this.db.selectFrom('jobs').select('id').where('id', 'in', batch.map(Number)).where('status', '!=', 'completed').execute();
      const keep = new Set(live.map((r) => String(r.id)));
      for (const name of batch) {
        if (keep.has(name)) continue;
        const file = path.join(spoolDir(this.storageDir), name);
        try {
          // Young links may belong to a transaction that has not committed yet.
          if (fs.statSync(file).ctimeMs < cutoff) fs.unlinkSync(file);
        } catch {}
      }
    }
  }
}
