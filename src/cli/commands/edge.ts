import type { Command } from 'commander';
import { configFrom, type GlobalOptions } from '../context.js';

export function registerEdge(program: Command): void {
  program
    .command('edge')
    .description('run an edge gateway for the DMZ (clients :2222, node tunnels :7443, /health :8080)')
    .option('--config <file>', 'YAML configuration file')
    .action(async (options: GlobalOptions) => {
      await (await import('../../edge/run-edge.js')).runEdge(configFrom(options));
    });
}
