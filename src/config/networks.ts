import net from 'node:net';
import { z } from 'zod';

/**
 * A setting that lists networks: addresses or address/prefix ("10.0.0.5",
 * "10.0.1.0/24", "2001:db8::/32"), a list in YAML, comma-separated in the
 * environment. Parsed to "address/prefix" strings (plain data: they cross into
 * worker threads) that networkMatcher() turns into a lookup.
 */
export const networkList = z
  .union([z.string(), z.array(z.string())])
  .default([])
  .transform((value, ctx) => {
    const entries = (typeof value === 'string' ? value.split(',') : value).map((v) => v.trim()).filter(Boolean);
    const list: string[] = [];
    for (const [i, entry] of entries.entries()) {
      const network = parseNetwork(entry);
      if (typeof network === 'string') list.push(network);
      else ctx.addIssue({ code: 'custom', path: [i], message: network.error });
    }
    return [...new Set(list)];
  });

function parseNetwork(entry: string): string | { error: string } {
  const [address = '', prefixText, extra] = entry.split('/');
  const family = net.isIP(address);
  const max = family === 6 ? 128 : 32;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (family === 0 || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
    return { error: `"${entry}" is not an IPv${family === 6 ? 6 : 4} address or network (e.g. 10.0.0.5, 10.0.1.0/24, 2001:db8::/32)` };
  }
  return `${address}/${prefix}`;
}

/**
 * Whether an address (as a socket reports it: IPv4-mapped IPv6 and a zone suffix
 * included) is in one of the networks ("address/prefix"). Build it once per list:
 * the check itself is a BlockList lookup.
 */
export function networkMatcher(networks: string[]): (address: string | undefined) => boolean {
  const list = new net.BlockList();
  for (const network of networks) {
    const [address, prefix] = network.split('/') as [string, string];
    list.addSubnet(address, Number(prefix), net.isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
  return (raw) => {
    const address = (raw ?? '').replace(/%.*$/, '');
    const family = net.isIP(address);
    return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
}
