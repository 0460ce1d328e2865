import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parser as promql } from '@prometheus-io/lezer-promql';
import YAML from 'yaml';
import { scrapeMetrics } from './harness/admin.js';
import { tempDir } from './harness/databases.js';
import { startNode } from './harness/ferry.js';

const repo = (file: string) => fileURLToPath(new URL(`../../${file}`, import.meta.url));
const RULES = repo('deploy/prometheus/ferry-alerts.yml');

/** Metric names a PromQL expression selects, and whether it parsed without error. */
function parsePromql(expr: string): { errors: number; metrics: string[] } {
  let errors = 0;
  const metrics: string[] = [];
  promql.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) errors++;
      if (node.name === 'Identifier') metrics.push(expr.slice(node.from, node.to));
    },
  });
  return { errors, metrics };
}

/** The metric family of a series name: a histogram's _bucket, _sum and _count belong to it. */
function family(name: string, families: Map<string, string>): string | undefined {
  if (families.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return families.get(base) === 'histogram' ? base : undefined;
}

describe('the shipped Prometheus alert rules and the metrics documentation', () => {
  it('are rules whose expressions parse as PromQL, use only metrics a node serves, and cover the cluster conditions; docs/metrics.md lists every metric', async () => {
    const doc = YAML.parse(fs.readFileSync(RULES, 'utf8'));
    assert.ok(Array.isArray(doc.groups) && doc.groups.length > 0, 'groups');
    const rules: any[] = doc.groups.flatMap((g: any) => {
      assert.equal(typeof g.name, 'string');
      assert.ok(Array.isArray(g.rules) && g.rules.length > 0, `rules of ${g.name}`);
      return g.rules;
    });
    assert.equal(new Set(rules.map((r) => r.alert)).size, rules.length, 'alert names are unique');

    const dir = tempDir();
    const node = await startNode({ dataDir: dir, databaseUrl: `sqlite:${path.join(dir, 'ferry.db')}` });
    let families: Map<string, string>;
    try {
      families = (await scrapeMetrics(node.adminPort)).types;
    } finally {
      await node.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }

    for (const rule of rules) {
      assert.match(rule.alert, /^Ferry[A-Z][A-Za-z]+$/);
      assert.deepEqual(
        Object.keys(rule).filter((k) => !['alert', 'expr', 'for', 'labels', 'annotations'].includes(k)),
        [],
        `${rule.alert}: known keys only`,
      );
      if (rule.for !== undefined) assert.match(rule.for, /^\d+[smhd]$/, `${rule.alert}: for`);
      assert.ok(['critical', 'warning', 'info'].includes(rule.labels?.severity), `${rule.alert}: severity`);
      assert.equal(typeof rule.annotations?.summary, 'string', `${rule.alert}: summary`);
      assert.equal(typeof rule.annotations?.description, 'string', `${rule.alert}: description`);
      const { errors, metrics } = parsePromql(rule.expr);
      assert.equal(errors, 0, `${rule.alert}: ${rule.expr} is not valid PromQL`);
      for (const name of metrics.filter((m) => m !== 'up')) {
        assert.ok(family(name, families), `${rule.alert} uses ${name}, which a node does not serve`);
      }
    }
    const uses = (metric: string) => rules.filter((r) => parsePromql(r.expr).metrics.some((m) => family(m, families) === metric || m === metric));
    for (const metric of [
      'up',
      'ferry_node_primary',
      'ferry_lease_token',
      'ferry_queue_jobs',
      'ferry_queue_oldest_age_seconds',
      'ferry_deliveries_total',
      'ferry_database_round_trip_seconds',
      'ferry_peer_heartbeat_age_seconds',
    ]) {
      assert.ok(uses(metric).length > 0, `a rule watches ${metric}`);
    }

    const documented = new Set(
      [...fs.readFileSync(repo('docs/metrics.md'), 'utf8').matchAll(/^\| `(ferry_[a-z_]+)` \| (\w+) \|/gm)].map((m) => `${m[1]} ${m[2]}`),
    );
    const served = new Set([...families.entries()].filter(([name]) => name.startsWith('ferry_')).map(([name, type]) => `${name} ${type}`));
    assert.deepEqual([...served].sort(), [...documented].sort(), 'docs/metrics.md lists exactly the metrics a node serves, with their types');
  });
});
