import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../observability/logger.js';
import { EdgeServer, type EdgeOptions } from './edge-server.js';

export interface EdgeThreadData {
  options: EdgeOptions;
  logLevel: string;
  name: string;
}

export type EdgeThreadMessage = { type: 'ready'; ports: { sftpPort: number; tunnelPort: number; healthPort: number } } | { type: 'stopped' };

/** The edge server in the worker thread that run-edge.ts starts (see there why a thread). */
const data = workerData as EdgeThreadData;
const edge = new EdgeServer(data.options, createLogger(data.logLevel, { edge: data.name }));
const ports = await edge.start();
parentPort!.postMessage({ type: 'ready', ports } satisfies EdgeThreadMessage);
parentPort!.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  void edge.stop().then(() => parentPort!.postMessage({ type: 'stopped' } satisfies EdgeThreadMessage));
});
