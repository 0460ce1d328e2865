import { adminRequest } from './admin-api.js';

/** A GET of a node's admin port (health, metrics) over its HTTPS, the body as text. */
export async function fetchAdmin(port: number, path: string): Promise<{ status: number; contentType: string; text: string }> {
  const res = await adminRequest(port, path, { raw: true });
  return { status: res.status, contentType: String(res.headers['content-type'] ?? ''), text: res.body };
}

/** One sample of the Prometheus text format: a series name, its labels and its value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A scrape, parsed; `get` sums the samples of a name whose labels include the given ones. */
export interface Scrape {
  samples: Sample[];
  /** Metric names with their # TYPE. */
  types: Map<string, string>;
  get(name: string, labels?: Record<string, string>): number;
  has(name: string, labels?: Record<string, string>): boolean;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  const matching = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    samples,
    types,
    get: (name, labels) => matching(name, labels).reduce((sum, s) => sum + s.value, 0),
    has: (name, labels) => matching(name, labels).length > 0,
  };
}

/** GET /metrics of a node, parsed. */
export async function scrapeMetrics(port: number): Promise<Scrape> {
  const res = await fetchAdmin(port, '/metrics');
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${res.text.slice(0, 200)}`);
  return parseExposition(res.text);
}
