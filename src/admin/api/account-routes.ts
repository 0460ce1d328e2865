import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { AccountStore } from '../../accounts/account-store.js';
import { parseAllowFrom } from '../../accounts/allow-from.js';
import { parsePublicKey, type ParsedPublicKey } from '../../accounts/public-key.js';
import type { Database } from '../../db/schema.js';
import { accountJson } from '../../views/account-view.js';
import { ApiError } from '../api-error.js';
import { principalOf } from '../auth.js';

const name = z.object({ name: z.string().min(1).max(64) });
const ADMIN = { access: 'admin' as const };

function parseKey(text: string): ParsedPublicKey {
  try {
    return parsePublicKey(text);
  } catch (err) {
    throw new ApiError(400, `invalid key: ${(err as Error).message}`);
  }
}

/** Accounts that log in over SFTP: the same operations as `ferry account`, in the same JSON shape. */
export function registerAccountRoutes(server: FastifyInstance, db: Kysely<Database>): void {
  const api = server.withTypeProvider<ZodTypeProvider>();
  const accounts = new AccountStore(db);
  const show = async (accountName: string) => {
    const account = await accounts.require(accountName);
    return accountJson(account, await accounts.keysOf(account.id));
  };

  api.get('/accounts', { schema: { summary: 'All accounts with keys and lockout state' } }, async () => {
    const rows = await accounts.list();
    return Promise.all(rows.map(async (a) => accountJson(a, await accounts.keysOf(a.id))));
  });

  api.get('/accounts/:name', { schema: { summary: 'One account', params: name } }, async (request) => show(request.params.name));

  api.post(
    '/accounts',
    {
      config: ADMIN,
      schema: {
        summary: 'Create an account (a password, keys, or both)',
        body: z.object({
          name: z.string().min(1).max(64),
          password: z.string().min(1).max(1024).optional(),
          keys: z.array(z.string().max(16384)).max(100).default([]),
          home: z.string().max(1024).optional(),
          allowFrom: z.array(z.string().max(100)).max(1000).optional().describe('networks (CIDR) it may log in from; absent or empty: any'),
        }),
      },
    },
    async (request, reply) => {
      const body = request.body;
      const keys = body.keys.map(parseKey);
      if (body.password === undefined && keys.length === 0) throw new ApiError(400, 'an account needs a password or at least one key');
      await accounts.add({ name: body.name, password: body.password, keys, home: body.home, allowFrom: body.allowFrom });
      request.log.info({ account: body.name, admin: principalOf(request).name }, 'account created');
      reply.code(201);
      return show(body.name);
    },
  );

  api.patch(
    '/accounts/:name',
    {
      config: ADMIN,
      schema: {
        summary: 'Enable or disable an account (enabling lifts a lockout), reset its password, set the networks it may log in from',
        params: name,
        body: z.object({
          disabled: z.boolean().optional(),
          password: z.string().min(1).max(1024).optional(),
          allowFrom: z.array(z.string().max(100)).max(1000).nullable().optional().describe('CIDRs; null or []: any address'),
        }),
      },
    },
    async (request) => {
      const { disabled, password, allowFrom } = request.body;
      // Checked before anything changes, and applied in one transaction: all of it or nothing.
      const networks = allowFrom === undefined ? undefined : allowFrom === null || allowFrom.length === 0 ? null : parseAllowFrom(allowFrom);
      await db.transaction().execute(async (trx) => {
        const store = new AccountStore(trx);
        await store.require(request.params.name);
        if (networks !== undefined) await store.setAllowFrom(request.params.name, networks);
        if (password !== undefined) await store.setPassword(request.params.name, password);
        if (disabled !== undefined) await store.setDisabled(request.params.name, disabled);
      });
      return show(request.params.name);
    },
  );

  api.post(
    '/accounts/:name/keys',
    { config: ADMIN, schema: { summary: 'Add an OpenSSH public key', params: name, body: z.object({ key: z.string().min(1).max(16384) }) } },
    async (request, reply) => {
      await accounts.addKey(request.params.name, parseKey(request.body.key));
      reply.code(201);
      return show(request.params.name);
    },
  );

  api.delete(
    '/accounts/:name/keys/:fingerprint',
    { config: ADMIN, schema: { summary: 'Remove a key by its SHA256 fingerprint', params: name.extend({ fingerprint: z.string().min(1).max(200) }) } },
    async (request) => {
      await accounts.removeKey(request.params.name, request.params.fingerprint);
      return show(request.params.name);
    },
  );

  api.delete('/accounts/:name', { config: ADMIN, schema: { summary: 'Remove an account (its files stay)', params: name } }, async (request) => {
    await accounts.remove(request.params.name);
    request.log.info({ account: request.params.name, admin: principalOf(request).name }, 'account removed');
    return { name: request.params.name, removed: true };
  });
}
