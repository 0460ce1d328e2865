import { useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { ErrorLine, Fields } from '../components.js';
import { bytes, time } from '../format.js';
import { usePoll } from '../hooks.js';

const COLORS = ['#1f6fb2', '#d9822b', '#2e8540', '#8e44ad', '#c0392b', '#16a085'];

interface Series {
  name: string;
  values: (number | null)[];
}

/** Lines over the report's intervals; a null value (an interval without transfers) breaks the line. */
function LineChart({ title, series, format, limit }: { title: string; series: Series[]; format: (v: number) => string; limit?: number | null }) {
  const width = 720;
  const height = 150;
  const top = 16;
  const count = Math.max(1, ...series.map((s) => s.values.length));
  const max = Math.max(1e-9, limit ?? 0, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const x = (i: number) => (count === 1 ? width / 2 : (i / (count - 1)) * (width - 8) + 4);
  const y = (v: number) => height - 4 - (v / max) * (height - top - 8);
  const segments = (values: (number | null)[]) => {
    const runs: string[] = [];
    let run: string[] = [];
    values.forEach((v, i) => {
      if (v === null) {
        if (run.length) runs.push(run.join(' '));
        run = [];
      } else run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    });
    if (run.length) runs.push(run.join(' '));
    return runs;
  };
  return (
    <figure style={{ margin: '0 0 12px' }}>
      <svg class="chart" width={width} height={height} role="img" aria-label={title}>
        {limit ? <line x1={0} x2={width} y1={y(limit)} y2={y(limit)} stroke="#c0392b" stroke-dasharray="4 3" /> : null}
        {series.map((s, k) =>
          segments(s.values).map((points, j) =>
            points.includes(' ') ? (
              <polyline key={`${k}-${j}`} points={points} fill="none" stroke={COLORS[k % COLORS.length]} stroke-width="2" />
            ) : (
              <circle key={`${k}-${j}`} cx={points.split(',')[0]} cy={points.split(',')[1]} r="2.5" fill={COLORS[k % COLORS.length]} />
            ),
          ),
        )}
        <text x={4} y={12} font-size="11" fill="#5b6678">
          {title}: up to {format(max)}
        </text>
      </svg>
      <figcaption class="muted">
        {series.map((s, k) => (
          <span key={s.name} style={{ color: COLORS[k % COLORS.length], marginRight: '12px' }}>
            ■ {s.name}
          </span>
        ))}
        {limit ? <span style={{ color: '#c0392b' }}>- - capacity per node</span> : null}
      </figcaption>
    </figure>
  );
}

const verdict = (v: boolean | null, good: string, bad: string) => (v === null ? 'cannot tell' : v ? bad : good);
const rate = (v: number) => `${bytes(Math.round(v))}/s`;

/** The capacity report (GET /capacity): transfer times, throughput and load per interval, and the verdicts. */
export function CapacityPage() {
  const [since, setSince] = useState('24h');
  const report = usePoll(() => api(`/capacity${query({ since })}`), [since], 60_000);
  const r = report.data;
  const nodes: string[] = r ? [...new Set<string>(r.intervals.flatMap((i: any) => Object.keys(i.nodes)))] : [];
  return (
    <>
      <h1>Capacity</h1>
      <p>
        Since{' '}
        <select value={since} onChange={(e) => setSince((e.target as HTMLSelectElement).value)}>
          {['1h', '6h', '24h', '7d', '30d'].map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
      </p>
      <ErrorLine error={report.error} />
      {r && (
        <>
          <div class="cards">
            <div class="card" data-testid="nearing">
              <div class="value">{verdict(r.nearing, 'no', 'yes')}</div>
              <div class="label">nearing capacity</div>
            </div>
            <div class="card" data-testid="headroom">
              <div class="value">{verdict(r.headroom.verdict === null ? null : !r.headroom.verdict, 'yes', 'no')}</div>
              <div class="label">can lose its busiest node</div>
            </div>
            <div class="card">
              <div class="value">{r.capacityPerNode ? rate(r.capacityPerNode) : 'not set'}</div>
              <div class="label">capacity per node</div>
            </div>
          </div>
          {r.warning && <p class="error">{r.reasons.join('; ')}</p>}
          <LineChart
            title="load per node"
            series={nodes.map((n) => ({ name: n, values: r.intervals.map((i: any) => i.nodes[n] ?? 0) }))}
            format={rate}
            limit={r.capacityPerNode}
          />
          <LineChart
            title="p95 throughput per transfer"
            series={[{ name: 'p95 throughput', values: r.intervals.map((i: any) => i.throughput?.p95 ?? null) }]}
            format={rate}
          />
          <LineChart
            title="transfers in flight"
            series={[{ name: 'mean concurrency', values: r.intervals.map((i: any) => i.concurrency) }]}
            format={(v) => v.toFixed(2)}
          />
          <LineChart
            title="transfer time"
            series={[
              { name: 'mean', values: r.intervals.map((i: any) => i.seconds?.mean ?? null) },
              { name: 'p95', values: r.intervals.map((i: any) => i.seconds?.p95 ?? null) },
              { name: 'standard deviation', values: r.intervals.map((i: any) => i.seconds?.stddev ?? null) },
            ]}
            format={(v) => `${v.toFixed(1)} s`}
          />
          <Fields
            fields={[
              ['window', `${time(r.since)} – ${time(r.until)}, ${r.intervals.length} intervals of ${r.intervalSeconds} s`],
              [
                'classic rule',
                `${verdict(r.rules.classic.verdict, 'not nearing', 'nearing')}: ${r.rules.classic.erratic} of ${r.rules.classic.intervals} intervals erratic`,
              ],
              ['throughput rule', `${verdict(r.rules.throughput.verdict, 'not nearing', 'nearing')}: ${r.rules.throughput.reason}`],
              ['failover', `${verdict(r.headroom.verdict === null ? null : !r.headroom.verdict, 'headroom', 'no headroom')}: ${r.headroom.reason}`],
            ]}
          />
        </>
      )}
    </>
  );
}
