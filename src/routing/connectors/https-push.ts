import crypto from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import { PermanentJobError } from '../../queue/queue-runner.js';
import type { HttpsPartner } from '../partners.js';
import type { Delivery, DeliveryResult } from './connector.js';
import { readChunks } from './source-file.js';

const TIMEOUT_MS = 60_000;
/** Answers that a retry can change; any other 4xx fails the delivery at once. */
const RETRYABLE_4XX = new Set([408, 409, 423, 425, 429]);

/**
 * Pushes a file over HTTPS: PUT to the partner's URL + file name, or a
 * multipart/form-data POST to the URL. TLS is always verified (against the
 * system CAs plus the partner's own --ca). The job id goes along as an
 * Idempotency-Key so a partner can recognise a repeat after a lost answer.
 */
export async function pushOverHttps(partner: HttpsPartner, delivery: Delivery): Promise<DeliveryResult> {
  const { source, signal } = delivery;
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
    const request = https.request(
      target,
      { method: partner.method, headers, signal, timeout: TIMEOUT_MS, ...(partner.ca ? { ca: [...tls.rootCertificates, partner.ca] } : {}) },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (d: string) => (body.length < 2000 ? (body += d) : undefined));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer from ${target.host} within ${TIMEOUT_MS / 1000} s`)));
    request.on('error', reject);
    (async () => {
      request.write(head);
      await readChunks(source.absPath, { start: 0, end: source.size }, hash, async (chunk) => {
        if (!request.write(chunk)) await new Promise((r) => request.once('drain', r));
      }, signal);
      request.end(tail);
    })().catch((err) => request.destroy(err as Error));
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
