import crypto from 'node:crypto';
import type { SftpPartner } from '../partners.js';
import { PartnerSftp } from './sftp-client.js';

const IDLE_MS = 15_000;

interface Idle {
  connection: PartnerSftp;
  timer: NodeJS.Timeout;
}

/**
 * Keeps logged-in SFTP connections to partners open for a few seconds after a
 * delivery, so a burst of small files pays one SSH handshake and login per
 * connection instead of one per file. A connection serves one delivery at a time;
 * changed partner settings (credentials, pinned key) never reuse an old one.
 */
export class SftpConnectionPool {
  private readonly idle = new Map<string, Idle[]>();

  /** Runs `work` on a pooled connection; a connection that failed or was aborted is not reused. */
  async use<T>(partner: SftpPartner, pin: (hostKey: string) => Promise<void>, signal: AbortSignal, work: (c: PartnerSftp) => Promise<T>): Promise<T> {
    const key = crypto.createHash('sha256').update(JSON.stringify(partner)).digest('hex');
    const connection = this.take(key) ?? (await PartnerSftp.connect(partner, pin, signal));
    const release = connection.abortOn(signal);
    let reusable = false;
    try {
      const result = await work(connection);
      reusable = !signal.aborted;
      return result;
    } finally {
      release();
      if (reusable && connection.usable) this.put(key, connection);
      else connection.destroy();
    }
  }

  private take(key: string): PartnerSftp | undefined {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const { connection, timer } = list.pop()!;
      clearTimeout(timer);
      if (connection.usable) return connection;
    }
    return undefined;
  }

  private put(key: string, connection: PartnerSftp): void {
    const list = this.idle.get(key) ?? [];
    this.idle.set(key, list);
    const entry: Idle = {
      connection,
      timer: setTimeout(() => {
        list.splice(list.indexOf(entry), 1);
        connection.close();
      }, IDLE_MS).unref(),
    };
    list.push(entry);
  }

  closeAll(): void {
    for (const list of this.idle.values())
      for (const { connection, timer } of list.splice(0)) {
        clearTimeout(timer);
        connection.close();
      }
  }
}
