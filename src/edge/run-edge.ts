import { Worker } from 'node:worker_threads';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../observability/logger.js';
import { VERSION } from '../version.js';
import type { EdgeThreadData, EdgeThreadMessage } from './edge-thread.js';
import { readTls } from './tunnel-protocol.js';

/**
 * V8's young generation for the relay. Every socket read is a fresh Buffer
 * outside the heap; with Node's default (16 MiB semi-spaces) that churn kept V8
 * starting a full mark-compact every 25 MB or so relayed, a quarter of the edge's
 * CPU. With 64 MiB semi-spaces only scavenges run. The limit is reserved address
 * space; memory is committed as the young generation grows.
 */
const YOUNG_GENERATION_MB = 3 * 64;

/**
 * Runs an edge gateway until SIGTERM: no database, nothing written to disk. The
 * server runs in a worker thread because that is how a process sizes V8's heap
 * for one isolate (resourceLimits) without flags on the command line.
 */
export async function runEdge(config: Config): Promise<void> {
  if (config.edge.proxy_protocol && config.edge.proxy_from.length === 0) {
    // Without it any client could send its own header and pick the address nodes check allow-lists against.
    throw new ConfigError(
      'edge.proxy_protocol is on but edge.proxy_from (FERRY_EDGE_PROXY_FROM) lists no balancer: give the addresses or networks of the balancers that send the PROXY header, e.g. 10.0.0.5 or 10.0.0.0/29',
    );
  }
  const log = createLogger(config.log.level, { edge: config.node.name });
  const data: EdgeThreadData = {
    options: {
      host: config.edge.host,
      sftpPort: config.edge.sftp_port,
      tunnelPort: config.edge.tunnel_port,
      healthPort: config.edge.health_port,
      proxyProtocol: config.edge.proxy_protocol,
      proxyFrom: config.edge.proxy_from,
      maxPending: config.edge.max_pending,
      pendingTimeoutMs: config.edge.pending_timeout,
      tls: readTls(config.tls, 'an edge'),
    },
    logLevel: config.log.level,
    name: config.node.name,
  };
  const thread = new Worker(new URL('./edge-thread.js', import.meta.url), {
    workerData: data,
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
  });
  let stopping = false;
  thread.on('message', (message: EdgeThreadMessage) => {
    if (message.type === 'ready') log.info({ ...message.ports, version: VERSION }, 'edge ready');
    if (message.type === 'stopped') process.exit(0);
  });
  thread.on('error', (err) => {
    log.fatal({ err: err.message }, 'edge failed');
    process.exit(1);
  });
  thread.on('exit', (code) => {
    if (stopping) return;
    log.fatal({ code }, 'edge thread ended');
    process.exit(1);
  });
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'edge stopping');
    thread.postMessage('stop');
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
