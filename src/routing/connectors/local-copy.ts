import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Delivery, DeliveryResult } from './connector.js';
import { readChunks } from './source-file.js';

export interface LocalTarget {
  /** Absolute directory the file lands in (inside the destination account's home). */
  dir: string;
  /** The destination account's partial directory: same file system, outside the home. */
  partialDir: string;
  /** How the destination shows in the transfer log. */
  label: string;
}

/**
 * Copies the source into another account's folder: written under a temporary name
 * outside that home, fsynced, renamed into place. A repeat after a crash writes the
 * same bytes again, which is harmless.
 */
export async function copyToAccount(delivery: Delivery, target: LocalTarget): Promise<DeliveryResult> {
  fs.mkdirSync(target.dir, { recursive: true });
  fs.mkdirSync(target.partialDir, { recursive: true });
  // Per attempt: an attempt whose lease was taken over never writes into its successor's file.
  const temp = path.join(target.partialDir, `delivery-${delivery.jobId}-${crypto.randomBytes(4).toString('hex')}.part`);
  const hash = crypto.createHash('sha256');
  const final = path.join(target.dir, delivery.targetName);
  try {
    const out = await fs.promises.open(temp, 'w');
    try {
      await readChunks(
        delivery.source.absPath,
        { start: 0, end: delivery.source.size },
        hash,
        async (chunk, position) => {
          await out.write(chunk, 0, chunk.length, position);
        },
        delivery.signal,
      );
      await out.sync();
    } finally {
      await out.close();
    }
    // Confirms the lease right before the file appears (throws when another node owns the job now).
    await delivery.saveCheckpoint({ phase: 'renaming' });
    fs.renameSync(temp, final);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
  const dir = fs.openSync(target.dir, 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
  return { bytes: delivery.source.size, sha256: hash.digest('hex'), destination: `${target.label}/${delivery.targetName}`, resumedAt: 0 };
}
