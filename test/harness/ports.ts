import fs from 'node:fs';
import net from 'node:net';

/**
 * Ports for the servers a test starts. They are drawn at random from below the
 * kernel's ephemeral range, not asked of the kernel with port 0: a port the kernel
 * hands out is also what it gives the next outgoing connection of any process
 * (a node dialling PostgreSQL, another test file running at the same time), so
 * between our probe and the server's bind someone else could take it. Below the
 * ephemeral range only another test's probe can, and at random among ~20,000
 * ports that is rare; a server that still finds its port taken fails loudly.
 */
const LOWEST = 10_000;

function ephemeralStart(): number {
  try {
    const [low] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low && low > LOWEST + 1000) return low;
  } catch {}
  return 32_768;
}

const HIGHEST = ephemeralStart() - 1;

/** Ports handed out in this process. */
const handedOut = new Set<number>();

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port that was free on loopback a moment ago and not given out before by this process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST + 1));
    if (handedOut.has(port) || !(await isFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port after 100 attempts');
}
