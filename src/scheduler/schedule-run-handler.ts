import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.js';
import { PermanentJobError, type JobContext, type JobHandler } from '../queue/queue-runner.js';
import { PartnerSftp } from '../routing/connectors/sftp-client.js';
import { enqueueDeliveries, enqueueDelivery } from '../routing/enqueue.js';
import { PartnerStore, partnerSettings } from '../routing/partners.js';
import { globMatcher } from '../routing/routes.js';
import type { Home } from '../storage/home.js';
import { recordPulledFile } from '../transfers/delivery-rows.js';
import { homeOfAccount } from '../routing/account-home.js';
import { SCHEDULE_RUN_JOB, type ScheduleRunPayload } from './scheduler.js';

/**
 * Runs one firing of a schedule. A push queues one delivery per matching file
 * (each deduplicated on schedule, slot and path, so a repeat of this job queues
 * nothing twice). A pull fetches each matching remote file into the account,
 * fsynced and renamed into place, logs it as an arrival (which triggers the
 * account's upload routes), then deletes the remote file if asked to.
 */
export class ScheduleRunHandler implements JobHandler {
  readonly kind = SCHEDULE_RUN_JOB;
  private readonly partners: PartnerStore;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly storageDir: string,
    private readonly nodeId: string,
    private readonly maxAttempts: number,
    private readonly log: Logger,
    private readonly onQueued: () => void,
  ) {
    this.partners = new PartnerStore(db);
  }

  async run(ctx: JobContext): Promise<void> {
    const payload = ctx.payload as ScheduleRunPayload;
    const home = await homeOfAccount(this.db, this.storageDir, payload.action.account);
    if (payload.action.type === 'push') await this.push(payload, home);
    else await this.pull(ctx, payload, home);
  }

  private async push(payload: ScheduleRunPayload, home: Home): Promise<void> {
    const dir = home.resolve(payload.action.dir);
    const matches = globMatcher(payload.action.glob);
    let names: string[];
    try {
      names = fs
        .readdirSync(dir.real, { withFileTypes: true })
        .filter((e) => e.isFile() && !e.name.startsWith('.') && matches(e.name))
        .map((e) => e.name)
        .sort();
    } catch (err) {
      throw new Error(`cannot list ${dir.virtual} of account ${payload.action.account}: ${(err as Error).message}`, { cause: err });
    }
    let queued = 0;
    await this.db.transaction().execute(async (trx) => {
      for (const name of names) {
        const virtual = path.posix.join(dir.virtual, name);
        const size = fs.statSync(path.join(dir.real, name)).size;
        const id = await enqueueDelivery(
          trx,
          {
            origin: `schedule:${payload.schedule}`,
            account: payload.action.account,
            path: virtual,
            size,
            sha256: null,
            steps: [{ type: 'push', partner: payload.action.partner }],
            rename: payload.rename,
            after: payload.after,
            nameTime: payload.slot,
          },
          {
            maxAttempts: this.maxAttempts,
            storageDir: this.storageDir,
            dedupeKey: `schedule:${payload.scheduleId}:${payload.slot}:${virtual}`,
            realPath: path.join(dir.real, name),
          },
        );
        if (id !== undefined) queued++;
      }
    });
    if (queued > 0) this.onQueued();
    this.log.info({ schedule: payload.schedule, files: names.length, queued }, 'scheduled push queued its deliveries');
  }

  private async pull(ctx: JobContext, payload: ScheduleRunPayload, home: Home): Promise<void> {
    const row = await this.partners.find(payload.action.partner);
    if (!row) throw new PermanentJobError(`partner "${payload.action.partner}" no longer exists`);
    const partner = partnerSettings(row);
    if (partner.protocol !== 'sftp') throw new PermanentJobError(`partner "${row.name}" is not an SFTP partner: only SFTP partners can be pulled from`);
    const dir = home.resolve(payload.action.dir);
    fs.mkdirSync(dir.real, { recursive: true });
    const matches = globMatcher(payload.action.glob);
    const pulled = new Map(
      (await this.db.selectFrom('pulled_files').select(['name', 'version']).where('schedule_id', '=', payload.scheduleId).execute()).map((r) => [
        r.name,
        r.version,
      ]),
    );
    const remote = await PartnerSftp.connect(partner, (key) => this.partners.pinHostKey(row.name, key), ctx.signal);
    const release = remote.abortOn(ctx.signal);
    try {
      const listing = await remote.readdir(partner.dir);
      const files = listing
        // A partner's name must be one plain file name here: no '/', no control characters.
        .filter((e) => e.attrs.isFile() && !e.filename.startsWith('.') && !/[/\x00-\x1f\x7f]/.test(e.filename) && matches(e.filename))
        .sort((a, b) => (a.filename < b.filename ? -1 : 1));
      for (const { filename: name, attrs } of files) {
        ctx.signal.throwIfAborted();
        const remotePath = path.posix.join(partner.dir, name);
        // Each version once: a file left at the partner is not fetched again at the next firing.
        const version = `${attrs.size}-${attrs.mtime}`;
        if (pulled.get(name) !== version) {
          await this.fetch(remote, remotePath, home, dir.real, path.posix.join(dir.virtual, name), ctx, payload, row.name, version);
        }
        if (payload.after === 'delete')
          await remote.unlink(remotePath).catch((err) => {
            if ((err as { code?: number }).code !== 2) throw err;
          });
      }
      const listed = new Set(files.map((f) => f.filename));
      const gone = [...pulled.keys()].filter((name) => !listed.has(name));
      if (gone.length > 0) await this.db.deleteFrom('pulled_files').where('schedule_id', '=', payload.scheduleId).where('name', 'in', gone).execute();
    } finally {
      release();
      remote.close();
    }
  }

  private async fetch(
    remote: PartnerSftp,
    remotePath: string,
    home: Home,
    dirReal: string,
    virtual: string,
    ctx: JobContext,
    payload: ScheduleRunPayload,
    partnerName: string,
    version: string,
  ): Promise<void> {
    const startedAt = Date.now();
    const temp = path.join(home.partialDir, `pull-${ctx.job.id}-${crypto.randomBytes(4).toString('hex')}.part`);
    await new Promise<void>((resolve, reject) => remote.sftp.fastGet(remotePath, temp, (err) => (err ? reject(err) : resolve())));
    const hash = crypto.createHash('sha256');
    const fd = fs.openSync(temp, 'r+');
    let size = 0;
    try {
      const buffer = Buffer.allocUnsafe(1024 * 1024);
      let n: number;
      while ((n = fs.readSync(fd, buffer, 0, buffer.length, size)) > 0) {
        hash.update(buffer.subarray(0, n));
        size += n;
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    const finalPath = path.join(dirReal, path.posix.basename(virtual));
    fs.renameSync(temp, finalPath);
    const sha256 = hash.digest('hex');
    let queued = 0;
    await this.db.transaction().execute(async (trx) => {
      await recordPulledFile(trx, {
        nodeId: this.nodeId,
        workerPid: process.pid,
        schedule: payload.schedule,
        partner: partnerName,
        account: payload.action.account,
        path: virtual,
        bytes: size,
        sha256,
        startedAt,
      });
      const name = path.posix.basename(virtual);
      await trx
        .insertInto('pulled_files')
        .values({ schedule_id: payload.scheduleId, name, version, pulled_at: Date.now() })
        .onConflict((oc) => oc.columns(['schedule_id', 'name']).doUpdateSet({ version, pulled_at: Date.now() }))
        .execute();
      queued = await enqueueDeliveries(
        trx,
        {
          event: 'upload',
          account: payload.action.account,
          path: virtual,
          size,
          sha256,
          realPath: finalPath,
          dedupeKey: `pull:${payload.scheduleId}:${virtual}:${version}`,
        },
        { maxAttempts: this.maxAttempts, storageDir: this.storageDir },
      );
    });
    if (queued > 0) this.onQueued();
  }
}
