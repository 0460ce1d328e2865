import type { TransferEnd, TransferStart } from './transfer-log.js';

/** What a protocol needs from the transfer log: a row at the start, an update at the end. */
export interface TransferJournal {
  /** The row's start; the node and worker are the journal's own. */
  start(t: Omit<TransferStart, 'nodeId' | 'workerPid'>): Promise<number>;
  finish(id: number, end: JournalEnd): Promise<void>;
  /** Records an upload completed: the file is in place; routes it triggers are queued with the record. */
  completeUpload(id: number, end: JournalEnd & { status: 'completed' }): Promise<void>;
  /** The SHA-256 a completed upload recorded for exactly this file version, if any. */
  knownSha256(account: string, path: string, fileStamp: string): Promise<string | undefined>;
}

/** How a transfer ended, as the transfer log records it. */
export type JournalEnd = TransferEnd;
