import path from 'node:path';
import { ferryOk, type FerryEnv } from './ferry.js';
import { sshKeygen } from './openssh.js';
import { freePort } from './ports.js';

/** One environment per node name: one database, one shared storage, each its own data directory. */
export function clusterEnvs(names: string[], dir: string, databaseUrl: string, extra: Record<string, string>): Record<string, FerryEnv> {
  return Object.fromEntries(
    names.map((name) => [
      name,
      { dataDir: path.join(dir, name), databaseUrl, storageDir: path.join(dir, 'shared'), extra: { ...extra, FERRY_NODE_NAME: name } },
    ]),
  );
}

/**
 * Accounts alice (an SSH key, returned) and bob (password "right password"), and
 * a route that pushes what alice uploads to out/ to a partner nobody listens
 * for: every such delivery fails.
 */
export async function seedAccountsAndFailingRoute(env: FerryEnv, dir: string): Promise<string> {
  const key = sshKeygen(dir);
  await ferryOk(env, ['account', 'add', 'alice', '--key', key + '.pub']);
  await ferryOk(env, ['account', 'add', 'bob', '--password-stdin'], 'right password\n');
  const deadPort = await freePort();
  await ferryOk(env, ['partner', 'add', 'gone', '--url', `sftp://ferry@127.0.0.1:${deadPort}/in`, '--password-stdin'], 'x\n');
  await ferryOk(env, ['route', 'add', 'to-gone', '--account', 'alice', '--path', 'out/*', '--push', 'gone']);
  return key;
}
