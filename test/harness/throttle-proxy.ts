import net from 'node:net';

export interface ThrottleProxy {
  port: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy on loopback that lets at most `bytesPerSecond` flow from client to
 * server (the other way is free): makes a long transfer last long enough to kill
 * a process in the middle of it, on a machine where everything else is instant.
 */
export async function startThrottleProxy(target: { host: string; port: number }, bytesPerSecond: number): Promise<ThrottleProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const tickMs = 50;
    const budgetPerTick = Math.max(1, Math.floor((bytesPerSecond * tickMs) / 1000));
    let used = 0;
    const timer = setInterval(() => {
      used = 0;
      if (client.isPaused()) client.resume();
    }, tickMs);
    client.on('data', (chunk: Buffer) => {
      used += chunk.length;
      if (!upstream.write(chunk) || used >= budgetPerTick) client.pause();
    });
    upstream.on('drain', () => used < budgetPerTick && client.resume());
    upstream.pipe(client);
    const end = () => {
      clearInterval(timer);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
