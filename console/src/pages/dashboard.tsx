import { api } from '../api.js';
import { Badge, ErrorLine } from '../components.js';
import { bytes, seconds, time } from '../format.js';
import { usePoll } from '../hooks.js';
import { TransferTable } from '../transfer-table.js';

interface Throughput {
  from: string;
  minutes: { minute: string; direction: string; bytes: number; count: number }[];
}

/** Bytes per minute over the last 30 minutes, uploads and deliveries stacked with downloads. */
function ThroughputChart({ data }: { data: Throughput }) {
  const start = Date.parse(data.from);
  const perMinute = new Map<number, number>();
  for (const m of data.minutes) {
    const i = Math.round((Date.parse(m.minute) - start) / 60_000);
    perMinute.set(i, (perMinute.get(i) ?? 0) + m.bytes);
  }
  const max = Math.max(1, ...perMinute.values());
  const width = 620;
  const height = 120;
  const bar = width / 31;
  const total = [...perMinute.values()].reduce((a, b) => a + b, 0);
  return (
    <figure style={{ margin: 0 }}>
      <svg class="chart" width={width} height={height} role="img" aria-label="throughput per minute">
        {[...perMinute.entries()].map(([i, b]) => (
          <rect key={i} x={i * bar + 1} y={height - (b / max) * (height - 14)} width={bar - 2} height={(b / max) * (height - 14)} fill="#1f6fb2">
            <title>{bytes(b)}</title>
          </rect>
        ))}
        <text x={4} y={12} font-size="11" fill="#5b6678">
          peak {bytes(max)}/min
        </text>
      </svg>
      <figcaption class="muted">Last 30 minutes: {bytes(total)} in completed transfers.</figcaption>
    </figure>
  );
}

export function Dashboard() {
  const cluster = usePoll(() => api('/cluster?events=5'), []);
  const transfers = usePoll(() => api('/transfers?limit=10'), []);
  const throughput = usePoll(() => api<Throughput>('/throughput?minutes=30'), [], 5000);
  const c = cluster.data;
  const sessions = c ? c.nodes.reduce((n: number, node: any) => n + node.sessions, 0) : 0;
  return (
    <>
      <h1>Dashboard</h1>
      <ErrorLine error={cluster.error ?? transfers.error} />
      {c && (
        <div class="cards">
          <div class="card">
            <div class="value">
              {c.nodes.filter((n: any) => n.state !== 'lost' && n.state !== 'stopped').length} / {c.nodes.length}
            </div>
            <div class="label">nodes up</div>
          </div>
          <div class="card">
            <div class="value">{c.primary?.node ?? 'none'}</div>
            <div class="label">primary (token {c.primary?.token ?? '-'})</div>
          </div>
          <div class="card">
            <div class="value">{sessions}</div>
            <div class="label">open sessions</div>
          </div>
          <div class="card">
            <div class="value">{c.mode}</div>
            <div class="label">cluster mode</div>
          </div>
        </div>
      )}
      <h2>Nodes</h2>
      {c && (
        <table data-testid="nodes">
          <thead>
            <tr>
              <th>Node</th>
              <th>Role</th>
              <th>State</th>
              <th>Ready</th>
              <th class="num">Heartbeat</th>
              <th class="num">Sessions</th>
              <th>Version</th>
              <th>SFTP</th>
            </tr>
          </thead>
          <tbody>
            {c.nodes.map((n: any) => (
              <tr key={n.id} data-node={n.name}>
                <td>{n.name}</td>
                <td>
                  <Badge value={n.role} />
                </td>
                <td>
                  <Badge value={n.state} />
                </td>
                <td>
                  <Badge value={n.ready ? 'ok' : 'down'} />
                </td>
                <td class="num">{seconds(n.heartbeatAgeMs)} ago</td>
                <td class="num">{n.sessions}</td>
                <td>{n.version}</td>
                <td>{n.sftp}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Throughput</h2>
      {throughput.data && <ThroughputChart data={throughput.data} />}
      <h2>Recent transfers</h2>
      {transfers.data && <TransferTable transfers={transfers.data.transfers} layout="compact" />}
      <h2>Latest cluster events</h2>
      {c && (
        <ul>
          {c.events.map((e: any, i: number) => (
            <li key={i}>
              {time(e.at)} <b>{e.kind}</b> {e.node} {e.detail}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
