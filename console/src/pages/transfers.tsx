import { useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { Badge, ErrorLine, Fields } from '../components.js';
import { bytes, time } from '../format.js';
import { useAction, usePoll } from '../hooks.js';
import type { Me } from '../main.js';
import { TransferTable } from '../transfer-table.js';

const STATUSES = ['', 'queued', 'in-progress', 'completed', 'failed', 'aborted'];

interface Search {
  account: string;
  path: string;
  status: string;
  since: string;
  until: string;
}

/** A datetime-local input's value as RFC 3339 in UTC. */
function rfc3339(local: string): string | undefined {
  return local ? new Date(local).toISOString() : undefined;
}

export function TransfersPage() {
  const [form, setForm] = useState<Search>({ account: '', path: '', status: '', since: '', until: '' });
  const [search, setSearch] = useState<Search>(form);
  const transfers = usePoll(
    () => api(`/transfers${query({ ...search, since: rfc3339(search.since), until: rfc3339(search.until), limit: 200 })}`),
    [JSON.stringify(search)],
  );
  const field = (key: keyof Search) => ({ value: form[key], onInput: (e: any) => setForm({ ...form, [key]: e.currentTarget.value }) });
  return (
    <>
      <h1>File tracking</h1>
      <form
        class="inline"
        aria-label="search transfers"
        onSubmit={(e) => {
          e.preventDefault();
          setSearch(form);
        }}
      >
        <label>
          Account
          <input name="account" {...field('account')} />
        </label>
        <label>
          Path contains
          <input name="path" {...field('path')} />
        </label>
        <label>
          Status
          <select name="status" {...field('status')}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Started after
          <input name="since" type="datetime-local" {...field('since')} />
        </label>
        <label>
          Started before
          <input name="until" type="datetime-local" {...field('until')} />
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorLine error={transfers.error} />
      {transfers.data && <TransferTable transfers={transfers.data.transfers} layout="full" testId="transfers" />}
      {transfers.data?.transfers.length === 0 && <p class="muted">No transfers match.</p>}
    </>
  );
}

export function TransferPage({ id, me: _me }: { id: string; me: Me }) {
  const transfer = usePoll(() => api(`/transfers/${encodeURIComponent(id)}`), [id]);
  const action = useAction(() => void transfer.reload());
  const t = transfer.data;
  return (
    <>
      <h1>Transfer {id}</h1>
      <ErrorLine error={transfer.error ?? action.error} />
      {action.notice && <div class="notice">{action.notice}</div>}
      {t && (
        <>
          <Fields
            fields={[
              ['Status', <Badge value={t.status} />],
              ['Direction', t.direction],
              ['Protocol', t.protocol],
              ['Account', t.account],
              ['Path', t.path],
              ['Destination', t.destination],
              ['Client', t.client],
              ['Node', t.node],
              ['Bytes', `${bytes(t.bytes)} (${t.bytes})`],
              ['Resumed at offset', t.offset],
              ['SHA-256', t.sha256],
              ['Started', time(t.started)],
              ['Ended', time(t.ended)],
              ['Attempts', t.attempts],
              ['Error', t.error],
            ]}
          />
          {t.direction === 'delivery' && t.status === 'failed' && (
            <p>
              <button onClick={() => action.run(() => api(`/transfers/${t.id}/resubmit`, { method: 'POST' }), 'delivery queued again')}>Resubmit</button>
            </p>
          )}
          {t.history && (
            <>
              <h2>Attempts</h2>
              <table>
                <thead>
                  <tr>
                    <th>Attempt</th>
                    <th>Node</th>
                    <th>Status</th>
                    <th class="num">Bytes</th>
                    <th>Started</th>
                    <th>Ended</th>
                    <th>Error</th>
                  </tr>
                </thead>
                <tbody>
                  {t.history.map((a: any) => (
                    <tr key={a.attempt}>
                      <td>{a.attempt}</td>
                      <td>{a.node}</td>
                      <td>
                        <Badge value={a.status} />
                      </td>
                      <td class="num">{bytes(a.bytes)}</td>
                      <td>{time(a.started)}</td>
                      <td>{time(a.ended)}</td>
                      <td>{a.error ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </>
      )}
    </>
  );
}
