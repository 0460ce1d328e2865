import crypto from 'node:crypto';
import https from 'node:https';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { PermanentJobError } from '../../queue/queue-runner.js';
import type { HttpsPartner } from '../partners.js';
import type { Delivery, DeliveryResult } from './connector.js';
import { readChunks } from './source-file.js';

const TIMEOUT_MS = 60_000;
/** Answers that a retry can change; any other 4xx fails the delivery at once. */
const RETRYABLE_4XX = new Set([408, 409, 423, 425, 429]);

/**
 * One connection per delivery, never a kept-alive one. Node's own agent (keep-alive
 * by default since Node 19) can free a connection twice when a response ends before
 * the request's 'finish' event (nodejs/node#60001, not fixed in Node 20): the second
 * free takes the connection away from the next request using it, which then neither
 * gets 'drain' nor an error nor its timeout. A TLS handshake per file costs little.
 */
const agent = new https.Agent({ keepAlive: false });

export interface HttpsPushOptions {
  /** How long the connection may sit without progress before the delivery fails. */
  idleTimeoutMs?: number;
}

/**
 * Pushes a file over HTTPS: PUT to the partner's URL + file name, or a
 * multipart/form-data POST to the URL. TLS is always verified (against the
 * system CAs plus the partner's own --ca). The job id goes along as an
 * Idempotency-Key so a partner can recognise a repeat after a lost answer.
 */
export async function pushOverHttps(partner: HttpsPartner, delivery: Delivery, options: HttpsPushOptions = {}): Promise<DeliveryResult> {
  const { source, signal } = delivery;
  const idleMs = options.idleTimeoutMs ?? TIMEOUT_MS;
  const target = new URL(partner.url);
  let head = Buffer.alloc(0);
  let tail = Buffer.alloc(0);
  const headers: Record<string, string | number> = { ...partner.headers, 'idempotency-key': `ferry-${delivery.jobId}` };
  if (partner.method === 'PUT') {
    target.pathname = target.pathname.replace(/\/?$/, '/') + encodeURIComponent(delivery.targetName);
    headers['content-type'] ??= 'application/octet-stream';
  } else {
    const boundary = `ferry-${crypto.randomBytes(12).toString('hex')}`;
    const filename = delivery.targetName.replaceAll('"', '%22').replaceAll('\r', '').replaceAll('\n', '');
    head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    headers['content-type'] = `multipart/form-data; boundary=${boundary}`;
  }
  headers['content-length'] = head.length + source.size + tail.length;

  const hash = crypto.createHash('sha256');
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    // Settles once, from whichever comes first. A failure never relies on the request
    // emitting 'error' (one whose connection was taken from it never does).
    let settled = false;
    let answered = false;
    let queued = 0;
    let stop: () => void = () => {};
    const stopped = new Promise<void>((r) => (stop = r));
    // The backstop for when Node's own idle timeout never fires (it is the connection's,
    // and a connection taken from the request takes it along). Node's fires after one to
    // two idle periods (it skips one while a write is queued); this one after three
    // without a chunk taken or a byte of answer.
    const watchdog = setTimeout(() => settle(new Error(`no progress on the connection to ${target.host} for ${(3 * idleMs) / 1000} s`)), 3 * idleMs);
    const progress = () => watchdog.refresh();
    const settle = (err: Error | null, value?: { status: number; body: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(watchdog);
      stop();
      signal.removeEventListener('abort', onAbort);
      if (err) {
        request.destroy(err);
        reject(err);
      } else resolve(value!);
    };
    const onAbort = () => settle(signal.reason instanceof Error ? signal.reason : new Error('delivery aborted'));
    const write = (data: Buffer) => {
      queued += data.length;
      return request.write(data);
    };

    const request = https.request(
      target,
      { method: partner.method, headers, agent, timeout: idleMs, ...(partner.ca ? { ca: [...tls.rootCertificates, partner.ca] } : {}) },
      (response) => {
        answered = true;
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (d: string) => {
          progress();
          if (body.length < 2000) body += d;
        });
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status <= 299 && queued < Number(headers['content-length'])) {
            settle(new Error(`answered ${status} before the whole file was sent`));
          } else settle(null, { status, body });
        });
        response.on('error', (err) => settle(err));
        response.on('close', () => settle(new Error('the connection closed in the middle of the answer')));
      },
    );
    request.on('timeout', () => settle(new Error(`no answer from ${target.host} within ${idleMs / 1000} s`)));
    request.on('error', (err) => settle(err));
    // Our own listener on the connection: Node takes its own ones off when it frees a connection.
    request.on('socket', (socket: Socket) =>
      socket.once('close', () => {
        if (!answered) settle(new Error(`the connection to ${target.host} closed before an answer`));
      }),
    );
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });

    (async () => {
      write(head);
      await readChunks(
        source.absPath,
        { start: 0, end: source.size },
        hash,
        async (chunk) => {
          if (settled) throw new Error('stopped');
          // Waits for room to write, or for the end of the delivery (then stops, closing the file).
          if (!write(chunk)) await Promise.race([new Promise((r) => request.once('drain', r)), stopped]);
          progress();
        },
        signal,
      );
      if (settled) return;
      queued += tail.length;
      request.end(tail);
    })().catch((err: Error) => settle(err));
  }).catch((err: Error) => {
    throw new Error(`${partner.method} ${target.origin}${target.pathname}: ${err.message}`);
  });
  if (answer.status < 200 || answer.status > 299) {
    const message = `${partner.method} ${target.origin}${target.pathname} answered ${answer.status}${answer.body ? `: ${answer.body.trim().slice(0, 200)}` : ''}`;
    if (answer.status >= 400 && answer.status < 500 && !RETRYABLE_4XX.has(answer.status)) throw new PermanentJobError(message);
    throw new Error(message);
  }
  return { bytes: source.size, sha256: hash.digest('hex'), destination: `${target.origin}${target.pathname}`, resumedAt: 0 };
}
