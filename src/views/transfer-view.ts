import type { deliveryHistory } from '../routing/resubmit.js';
import type { TransferRecord } from '../transfers/transfer-log.js';
import { isoTime } from './time.js';

/** The stable JSON shape of a transfer (documented in docs/cli.md). */
export function transferJson(t: TransferRecord) {
  return {
    id: t.id,
    status: t.status,
    direction: t.direction,
    protocol: t.protocol,
    account: t.account,
    path: t.path,
    client: t.client_address,
    node: t.node_id,
    session: t.session_id,
    offset: t.start_offset,
    bytes: t.bytes,
    started: isoTime(t.started_at),
    ended: isoTime(t.ended_at),
    sha256: t.sha256,
    error: t.error,
    attempts: t.attempts,
    destination: t.destination,
    whole: t.whole_file === null ? null : t.whole_file === 1,
  };
}

/** One attempt of a delivery, as `transfers show` lists it. */
export function attemptJson(a: Awaited<ReturnType<typeof deliveryHistory>>[number]) {
  return {
    attempt: a.attempt,
    node: a.node_id,
    status: a.status,
    bytes: Number(a.bytes),
    started: isoTime(a.started_at),
    ended: isoTime(a.ended_at),
    error: a.error,
  };
}
