import type { Command } from 'commander';
import { runNode } from '../../node.js';
import { configFrom, type GlobalOptions } from '../context.js';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run a node (defaults: SQLite + ./data, SFTP :2222)')
    .option('--config <file>', 'YAML configuration file')
    .action(async (options: GlobalOptions) => {
      await runNode(configFrom(options));
    });
}
