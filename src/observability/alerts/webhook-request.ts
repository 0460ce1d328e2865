import crypto from 'node:crypto';
import type { ClusterEvent } from '../../cluster/events.js';
import { VERSION } from '../../version.js';
import type { Webhook } from './webhooks.js';

/** The JSON body of an alert: the event as `ferry cluster status --json` shows it, with its id. */
export function alertBody(event: ClusterEvent): string {
  return JSON.stringify({
    id: Number(event.id),
    kind: event.kind,
    at: new Date(Number(event.at)).toISOString(),
    node: event.node_name,
    nodeId: event.node_id,
    detail: event.detail,
  });
}

/** `sha256=` + hex HMAC-SHA256 with the webhook's secret over `TIMESTAMP.BODY` (the X-Ferry-Timestamp value, a dot, the raw body). */
export function alertSignature(secret: string, timestamp: number, body: string): string {
  return 'sha256=' + crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** POSTs one alert; resolves on a 2xx answer, throws with a short reason otherwise. */
export async function postAlert(hook: Webhook, event: ClusterEvent, attempt: number, timeoutMs: number): Promise<void> {
  const body = alertBody(event);
  const timestamp = Math.floor(Date.now() / 1000);
  let response: Response;
  try {
    response = await fetch(hook.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': `Ferry/${VERSION}`,
        'x-ferry-event-id': String(event.id),
        'x-ferry-event-kind': event.kind,
        'x-ferry-delivery-attempt': String(attempt),
        'x-ferry-timestamp': String(timestamp),
        'x-ferry-signature': alertSignature(hook.secret, timestamp, body),
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const e = err as Error & { cause?: Error & { code?: string } };
    if (e.name === 'TimeoutError') throw new Error(`no answer within ${timeoutMs / 1000} s`, { cause: err });
    throw new Error(e.cause?.code ?? e.cause?.message ?? e.message, { cause: err });
  }
  await response.body?.cancel().catch(() => {});
  if (response.status < 200 || response.status > 299) throw new Error(`HTTP ${response.status}`);
}
