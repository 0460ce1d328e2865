import type { TransferDirection, TransferStatus } from '../db/schema.js';
import type { JournalEnd, TransferJournal } from '../transfers/transfer-journal.js';

/**
 * What a worker process reports to its supervisor, which keeps the node's metrics:
 * one message per login, session and transfer start or end, none per packet.
 * Counters then live in the one long-lived process, so a replaced worker does not
 * make them go back, and one scrape of the supervisor gives the whole node.
 */
export type MetricEvent =
  | { metric: 'login'; protocol: string; ok: boolean }
  | { metric: 'session'; protocol: string; open: boolean }
  /** One password hash computed for a login, a dummy one (unknown account, no password, …) included. */
  | { metric: 'password-hash' }
  | { metric: 'transfer-started'; protocol: string; direction: TransferDirection }
  | {
      metric: 'transfer-ended';
      protocol: string;
      direction: TransferDirection;
      status: Exclude<TransferStatus, 'in-progress' | 'queued'>;
      bytes: number;
      seconds: number;
    };

export type ReportMetric = (event: MetricEvent) => void;

/** How long a worker gathers metric events before sending them to its supervisor in one message. */
export const METRIC_BATCH_MS = 50;

/**
 * Reports metric events in batches: one IPC message per METRIC_BATCH_MS at most,
 * not one per event (a message costs a busy worker tens of microseconds, as much
 * as a small file's SFTP request). flush() sends what waits, before the worker exits.
 */
export function batchedReporter(send: (events: MetricEvent[]) => void): { report: ReportMetric; flush(): void } {
  let waiting: MetricEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (waiting.length === 0) return;
    const events = waiting;
    waiting = [];
    send(events);
  };
  const report = (event: MetricEvent) => {
    waiting.push(event);
    timer ??= setTimeout(flush, METRIC_BATCH_MS).unref();
  };
  return { report, flush };
}

/**
 * The journal with a report at each transfer's start and end: the transfer's
 * bytes are counted once, when it ends, from what the journal records anyway.
 */
export function measuredJournal(journal: TransferJournal, report: ReportMetric): TransferJournal {
  const open = new Map<number, { protocol: string; direction: TransferDirection; startedAt: number }>();
  const ended = (id: number, end: JournalEnd) => {
    const t = open.get(id);
    if (!t || end.status === 'queued') return;
    open.delete(id);
    report({
      metric: 'transfer-ended',
      protocol: t.protocol,
      direction: t.direction,
      status: end.status,
      bytes: end.bytes,
      seconds: (performance.now() - t.startedAt) / 1000,
    });
  };
  return {
    start: async (t) => {
      const id = await journal.start(t);
      open.set(id, { protocol: t.protocol, direction: t.direction, startedAt: performance.now() });
      report({ metric: 'transfer-started', protocol: t.protocol, direction: t.direction });
      return id;
    },
    finish: (id, end) => {
      ended(id, end);
      return journal.finish(id, end);
    },
    completeUpload: (id, end) => {
      ended(id, end);
      return journal.completeUpload(id, end);
    },
    knownSha256: (account, path, stamp) => journal.knownSha256(account, path, stamp),
  };
}
