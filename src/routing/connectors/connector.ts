import type { Logger } from 'pino';
import type { SourceFile } from './source-file.js';

/** Where a delivery step stands, saved in the job so another node resumes from it. */
export interface StepCheckpoint {
  /** 'renaming': the data is complete at the destination under its temporary name. */
  phase: 'renaming';
}

export interface Delivery {
  source: SourceFile;
  /** The file name at the destination (after the route's rename pattern). */
  targetName: string;
  jobId: number;
  checkpoint: StepCheckpoint | undefined;
  saveCheckpoint(checkpoint: StepCheckpoint): Promise<void>;
  signal: AbortSignal;
  log: Logger;
}

export interface DeliveryResult {
  /** Bytes sent by this attempt (less than the size when it resumed). */
  bytes: number;
  /** SHA-256 of the whole file as delivered. */
  sha256: string;
  /** Where it went, for the transfer log. */
  destination: string;
  /** The offset this attempt resumed from. */
  resumedAt: number;
}

/** The temporary name a delivery writes under, the same for every attempt of one job. */
export function temporaryName(targetName: string, jobId: number): string {
  return `.${targetName}.${jobId}.ferrypart`;
}
