import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Leadership, SingletonService } from '../../cluster/coordinator.js';
import type { ClusterEvents } from '../../cluster/events.js';
import type { Database } from '../../db/schema.js';
import type { ClusterMode } from './headroom.js';
import { loadCapacityReport } from './load-report.js';

export interface CapacityCheckOptions {
  intervalMs: number;
  windowMs: number;
  checkIntervalMs: number;
  capacity?: number;
  mode: ClusterMode;
  /** capacity.min_samples */
  minSamples: number;
}

/**
 * The primary's periodic capacity check: computes the capacity report over the last
 * capacity.window and, while it warns, records a 'capacity-warning' cluster event at
 * most once per capacity.check_interval (across failovers: the last event's time is
 * read from the database). The event is written under the primary's fence.
 */
export class CapacityCheck implements SingletonService {
  readonly name = 'capacity-check';
  readonly intervalMs: number;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly events: ClusterEvents,
    private readonly options: CapacityCheckOptions,
    private readonly log: Logger,
  ) {
    this.intervalMs = options.checkIntervalMs;
  }

  async run({ fence }: Leadership): Promise<void> {
    const now = Date.now();
    const report = await loadCapacityReport(this.db, {
      since: now - this.options.windowMs,
      until: now,
      intervalMs: this.options.intervalMs,
      capacity: this.options.capacity,
      defaultMode: this.options.mode,
      minSamples: this.options.minSamples,
    });
    if (!report.warning) {
      this.log.info({ nearing: report.nearing, headroom: report.headroom.verdict }, 'capacity checked: no warning');
      return;
    }
    const last = await this.db
      .selectFrom('cluster_events')
      .select('at')
      .where('kind', '=', 'capacity-warning')
      .orderBy('at', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (last && now - Number(last.at) < this.options.checkIntervalMs) {
      this.log.info({ reasons: report.reasons, raisedAt: new Date(Number(last.at)).toISOString() }, 'capacity warning still holds (already raised)');
      return;
    }
    const detail = report.reasons.join('; ');
    if (await this.events.recordFenced({ kind: 'capacity-warning', nodeId: null, nodeName: null, detail, at: now }, fence)) {
      this.log.warn({ reasons: report.reasons }, 'capacity warning');
    }
  }
}
