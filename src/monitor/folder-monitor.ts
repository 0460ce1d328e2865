import fs from 'node:fs';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { NotPrimaryAnyMore, type Leadership, type SingletonService } from '../cluster/coordinator.js';
import type { Database } from '../db/schema.js';
import { homeOfAccount } from '../routing/account-home.js';
import { enqueueDeliveries } from '../routing/enqueue.js';
import { globMatcher } from '../routing/routes.js';
import type { MonitorRow } from './monitors.js';

interface Candidate {
  stamp: string;
  /** Since when the file has shown this same stamp. */
  since: number;
}

/** size, mtime and inode: what changes while a file is still being written or replaced. */
function versionStamp(st: fs.BigIntStats): string {
  return `${st.size}-${st.mtimeNs}-${st.ino}`;
}

/**
 * The folder monitor, a singleton on the primary. It polls (inotify does not see
 * changes made on other NFS clients), waits until a file's size and mtime have
 * not changed for the monitor's stable time, then records that file version and
 * queues its routes (trigger 'monitor') in one transaction. The version record
 * and the routes' dedupe keys make each version go out once, across failovers: a
 * new primary only re-waits the stable time.
 */
export class FolderMonitor implements SingletonService {
  readonly name = 'folder-monitor';
  private readonly candidates = new Map<string, Candidate>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly storageDir: string,
    readonly intervalMs: number,
    private readonly maxAttempts: number,
    private readonly log: Logger,
    private readonly onQueued: () => void,
  ) {}

  async run(leadership: Leadership): Promise<void> {
    const monitors = await this.db.selectFrom('monitors').selectAll().where('enabled', '=', 1).execute();
    const live = new Set<string>();
    for (const monitor of monitors) {
      try {
        await this.scan(monitor, leadership, live);
      } catch (err) {
        if (err instanceof NotPrimaryAnyMore) return;
        this.log.error({ monitor: monitor.name, err: (err as Error).message }, 'folder monitor scan failed');
      }
    }
    for (const key of this.candidates.keys()) if (!live.has(key)) this.candidates.delete(key);
  }

  private async scan(monitor: MonitorRow, { fence }: Leadership, live: Set<string>): Promise<void> {
    const home = await homeOfAccount(this.db, this.storageDir, monitor.account);
    const dir = home.resolve(monitor.dir);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir.real, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const matches = globMatcher(monitor.path_glob);
    const seen = new Map(
      (await this.db.selectFrom('monitor_files').select(['path', 'stamp']).where('monitor_id', '=', Number(monitor.id)).execute()).map((r) => [
        r.path,
        r.stamp,
      ]),
    );
    const now = Date.now();
    const present = new Set<string>();
    for (const entry of entries) {
      if (!entry.isFile() || entry.name.startsWith('.') || !matches(entry.name)) continue;
      const virtual = path.posix.join(dir.virtual, entry.name);
      present.add(virtual);
      let stats: fs.BigIntStats;
      try {
        stats = fs.statSync(path.join(dir.real, entry.name), { bigint: true });
      } catch {
        continue; // gone between listing and stat
      }
      const stamp = versionStamp(stats);
      if (seen.get(virtual) === stamp) continue;
      const key = `${monitor.id}:${virtual}`;
      live.add(key);
      const candidate = this.candidates.get(key);
      if (!candidate || candidate.stamp !== stamp) {
        this.candidates.set(key, { stamp, since: now });
        continue;
      }
      if (now - candidate.since < Number(monitor.stable_ms)) continue;
      await this.pickUp(monitor, virtual, path.join(dir.real, entry.name), stamp, Number(stats.size), fence);
      this.candidates.delete(key);
    }
    // Forget versions of files that are gone, so the table stays as small as the folder.
    const gone = [...seen.keys()].filter((p) => !present.has(p));
    if (gone.length > 0) {
      await this.db.deleteFrom('monitor_files').where('monitor_id', '=', Number(monitor.id)).where('path', 'in', gone).where(fence).execute();
    }
  }

  private async pickUp(monitor: MonitorRow, virtual: string, realPath: string, stamp: string, size: number, fence: Leadership['fence']): Promise<void> {
    const queued = await this.db.transaction().execute(async (trx) => {
      const recorded = await trx
        .insertInto('monitor_files')
        .columns(['monitor_id', 'path', 'stamp', 'seen_at'])
        .expression(
          trx
            .selectNoFrom([
              sql<number>`${Number(monitor.id)}`.as('monitor_id'),
              sql<string>`${virtual}`.as('path'),
              sql<string>`${stamp}`.as('stamp'),
              sql<number>`${Date.now()}`.as('seen_at'),
            ])
            .where(fence),
        )
        .onConflict((oc) => oc.columns(['monitor_id', 'path']).doUpdateSet({ stamp, seen_at: Date.now() }).where('monitor_files.stamp', '!=', stamp))
        .executeTakeFirst();
      if (Number(recorded.numInsertedOrUpdatedRows ?? 0) === 0) throw new NotPrimaryAnyMore();
      return enqueueDeliveries(
        trx,
        { event: 'monitor', account: monitor.account, path: virtual, size, sha256: null, dedupeKey: `monitor:${monitor.id}:${virtual}:${stamp}`, realPath },
        { maxAttempts: this.maxAttempts, storageDir: this.storageDir },
      );
    });
    this.log.info({ monitor: monitor.name, path: virtual, routes: queued }, 'folder monitor picked up a file');
    if (queued > 0) this.onQueued();
  }
}
