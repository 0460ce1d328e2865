import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ferryOk, type FerryEnv } from './ferry.js';
import { freePort } from './ports.js';

/** Commands that need no database (ferry pki) still load a configuration; this one is never opened. */
const NO_DATABASE = 'sqlite:/nonexistent/never-opened.db';

/** The mutual-TLS files of edges and nodes, made as an operator makes them: ferry pki. */
export interface TunnelPki {
  /** FERRY_TLS_* for the edge or node of that name. */
  tlsEnv(name: string): Record<string, string>;
}

export async function makeTunnelPki(dir: string, edges: string[], nodes: string[]): Promise<TunnelPki> {
  const pki = path.join(dir, 'pki');
  const cli: FerryEnv = { dataDir: path.join(dir, 'pki-cli'), databaseUrl: NO_DATABASE };
  await ferryOk(cli, ['pki', 'init', pki]);
  for (const name of edges) await ferryOk(cli, ['pki', 'issue', 'edge', name, '--dir', pki, '--host', '127.0.0.1']);
  for (const name of nodes) await ferryOk(cli, ['pki', 'issue', 'node', name, '--dir', pki]);
  return {
    tlsEnv: (name) => ({
      FERRY_TLS_CA: path.join(pki, 'ca.crt'),
      FERRY_TLS_CERT: path.join(pki, `${name}.crt`),
      FERRY_TLS_KEY: path.join(pki, `${name}.key`),
    }),
  };
}

export interface EdgeSetup {
  name: string;
  /** For startNode(env, { command: 'edge', cwd }). */
  env: FerryEnv;
  /** The edge's working directory: it must stay empty (an edge writes nothing). */
  cwd: string;
  ports: { sftp: number; tunnel: number; health: number };
  /** host:port for a node's FERRY_EDGES. */
  tunnel: string;
}

/** The environment of one edge on free loopback ports. */
export async function edgeSetup(dir: string, name: string, pki: TunnelPki, extra: Record<string, string> = {}): Promise<EdgeSetup> {
  const ports = { sftp: await freePort(), tunnel: await freePort(), health: await freePort() };
  const cwd = path.join(dir, `${name}-cwd`);
  fs.mkdirSync(cwd, { recursive: true });
  return {
    name,
    cwd,
    ports,
    tunnel: `127.0.0.1:${ports.tunnel}`,
    env: {
      dataDir: path.join(dir, `${name}-logs`),
      databaseUrl: NO_DATABASE,
      extra: {
        ...pki.tlsEnv(name),
        FERRY_NODE_NAME: name,
        FERRY_EDGE_HOST: '127.0.0.1',
        FERRY_EDGE_SFTP_PORT: String(ports.sftp),
        FERRY_EDGE_TUNNEL_PORT: String(ports.tunnel),
        FERRY_EDGE_HEALTH_PORT: String(ports.health),
        ...extra,
      },
    },
  };
}

/** GET /health of an edge: status code (0 if it does not answer) and body. */
export async function edgeHealth(port: number): Promise<{ code: number; body: any }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
    return { code: res.status, body: await res.json() };
  } catch {
    return { code: 0, body: undefined };
  }
}

/** Names of the nodes an edge sees ready, sorted. */
export async function readyNodesAt(healthPort: number): Promise<string[]> {
  const nodes: Array<{ node: string; ready: boolean }> = (await edgeHealth(healthPort)).body?.nodes ?? [];
  return nodes
    .filter((n) => n.ready)
    .map((n) => n.node)
    .sort();
}

/**
 * Connects to an edge's client port from `localAddress` (a loopback alias such as
 * 127.0.0.2), sends `bytes` and collects what comes back until the edge closes
 * the connection or `timeoutMs` passes: `closed` says which.
 */
export function rawClient(port: number, localAddress: string, bytes: Buffer | string, timeoutMs = 10_000): Promise<{ received: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    let received = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ received, closed });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => done(true));
  });
}
