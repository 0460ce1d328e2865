import type { Config } from '../config/schema.js';
import { createLogger } from '../observability/logger.js';
import { VERSION } from '../version.js';
import { EdgeServer } from './edge-server.js';
import { readTls } from './tunnel-protocol.js';

/** Runs an edge gateway until SIGTERM: no database, nothing written to disk. */
export async function runEdge(config: Config): Promise<void> {
  const log = createLogger(config.log.level, { edge: config.node.name });
  const edge = new EdgeServer(
    {
      host: config.edge.host,
      sftpPort: config.edge.sftp_port,
      tunnelPort: config.edge.tunnel_port,
      healthPort: config.edge.health_port,
      proxyProtocol: config.edge.proxy_protocol,
      tls: readTls(config.tls, 'an edge'),
    },
    log,
  );
  const ports = await edge.start();
  log.info({ ...ports, version: VERSION }, 'edge ready');
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'edge stopping');
    await edge.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
