import type { Command } from 'commander';
import { ClusterAdmin, ClusterAdminError, type Liveness } from '../../cluster/cluster-admin.js';
import type { Config } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import { clusterJson } from '../../views/cluster-view.js';
import { CliError, isoTime, printJson, printTable, withDatabase, type GlobalOptions } from '../context.js';

/** A node's liveness as this command's configuration sets it (node.dead_after, node.heartbeat_interval). */
function livenessOf(config: Config): Liveness {
  return { deadAfterMs: config.node.dead_after, heartbeatIntervalMs: config.node.heartbeat_interval };
}

function rethrow(err: unknown): never {
  if (err instanceof ClusterAdminError) throw new CliError(err.message);
  throw err;
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('the nodes sharing this database');

  cluster
    .command('status')
    .description('mode, nodes with role, readiness, heartbeat age and sessions, and recent events')
    .option('--events <n>', 'how many recent events to show', '10')
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'YAML configuration file')
    .action(async (options: GlobalOptions & { json?: boolean; events: string }) => {
      await withDatabase(options, async ({ db, dialect }, config) => {
        const view = await new ClusterAdmin(db, dialect, livenessOf(config)).view(Number(options.events) || 10);
        if (options.json) return printJson(clusterJson(view));
        const primary = view.primary.name ? `${view.primary.name} (token ${view.primary.token})` : 'none';
        process.stdout.write(`mode: ${view.mode}\nprimary: ${primary}\n\n`);
        printTable(
          ['NAME', 'ROLE', 'STATE', 'READY', 'HEARTBEAT', 'SESSIONS', 'VERSION', 'SFTP'],
          view.nodes.map((n) => [
            n.name,
            n.role,
            n.state,
            n.ready ? 'yes' : 'no',
            `${(n.heartbeatAgeMs / 1000).toFixed(1)}s ago`,
            String(n.sessions),
            n.version,
            n.sftpAddress ?? '-',
          ]),
        );
        if (view.events.length > 0) {
          process.stdout.write('\nrecent events:\n');
          printTable(
            ['TIME', 'EVENT', 'NODE', 'DETAIL'],
            view.events.map((e) => [isoTime(e.at)!, e.kind, e.node_name ?? '-', e.detail]),
          );
        }
      });
    });

  cluster
    .command('drain <node>')
    .description('stop giving a node new sessions and work; let its transfers finish, then close them')
    .option('--timeout <duration>', 'how long in-flight transfers may finish (default cluster.drain_timeout)')
    .option('--no-wait', 'return at once instead of waiting until the node is drained')
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: GlobalOptions & { timeout?: string; wait: boolean }) => {
      await withDatabase(options, async ({ db, dialect }, config) => {
        let timeoutMs: number;
        try {
          timeoutMs = options.timeout ? parseDuration(options.timeout) : config.cluster.drain_timeout;
        } catch (err) {
          throw new CliError((err as Error).message);
        }
        const admin = new ClusterAdmin(db, dialect, livenessOf(config));
        const node = await admin.drain(name, timeoutMs).catch(rethrow);
        process.stdout.write(`draining ${node.name}\n`);
        if (!options.wait) return;
        const deadline = Date.now() + timeoutMs + 30_000;
        while (Date.now() < deadline) {
          if ((await admin.state(node.id)) === 'drained') {
            process.stdout.write(`${node.name} drained\n`);
            return;
          }
          await new Promise((r) => setTimeout(r, 250));
        }
        throw new CliError(`${node.name} did not report drained in time; is it running?`);
      });
    });

  cluster
    .command('remove <node>')
    .description('remove a drained, stopped or lost node from the cluster')
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: GlobalOptions) => {
      await withDatabase(options, async ({ db, dialect }, config) => {
        const node = await new ClusterAdmin(db, dialect, livenessOf(config)).remove(name).catch(rethrow);
        process.stdout.write(`${node.name} removed\n`);
      });
    });
}
