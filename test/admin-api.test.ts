import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { adminLogin, adminRequest } from './harness/admin-api.js';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { ferryOk, runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sftpBatch, sshKeygen } from './harness/openssh.js';

const ROOT_PASSWORD = 'root-password-1';
const OPERATOR_PASSWORD = 'operator-password-1';

describe('REST API on the admin port (two nodes, one PostgreSQL)', () => {
  let dir: string;
  let envA: FerryEnv;
  let envB: FerryEnv;
  let a: RunningNode;
  let b: RunningNode;
  let rootToken: string;

  before(async () => {
    dir = tempDir();
    const databaseUrl = await preparedDatabaseUrl('postgres', dir);
    const storageDir = path.join(dir, 'shared');
    const extra = { FERRY_NODE_WORKERS: '1', FERRY_ADMIN_LOGIN_RATE_LIMIT: '12', FERRY_QUEUE_MAX_ATTEMPTS: '1' };
    envA = { dataDir: path.join(dir, 'a'), databaseUrl, storageDir, extra: { ...extra, FERRY_NODE_NAME: 'a' } };
    envB = { dataDir: path.join(dir, 'b'), databaseUrl, storageDir, extra: { ...extra, FERRY_NODE_NAME: 'b' } };
    await ferryOk(envA, ['admin', 'add', 'root', '--role', 'admin', '--password-stdin'], ROOT_PASSWORD + '\n');
    await ferryOk(envA, ['admin', 'add', 'ops', '--role', 'operator', '--password-stdin'], OPERATOR_PASSWORD + '\n');
    [a, b] = await Promise.all([startNode(envA), startNode(envB)]);
    rootToken = await adminLogin(a.adminPort, 'root', ROOT_PASSWORD);
  });

  after(async () => {
    await Promise.all([a?.kill('SIGKILL'), b?.kill('SIGKILL')]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ferry admin add refuses bad input and changes nothing', async () => {
    const badRole = await runFerry(['admin', 'add', 'x', '--role', 'superuser', '--password-stdin'], envA, 'long-enough-pw\n');
    assert.equal(badRole.code, 1);
    assert.match(badRole.stderr, /invalid role "superuser": use admin or operator/);
    const short = await runFerry(['admin', 'add', 'x', '--role', 'admin', '--password-stdin'], envA, 'short\n');
    assert.equal(short.code, 1);
    assert.match(short.stderr, /at least 10 characters/);
    const dup = await runFerry(['admin', 'add', 'root', '--role', 'admin', '--password-stdin'], envA, 'another-password\n');
    assert.match(dup.stderr, /admin user "root" already exists/);
    const generated = await ferryOk(envA, ['admin', 'add', 'gen', '--role', 'operator']);
    const password = /password: (\S+)/.exec(generated)?.[1];
    assert.ok(password, generated);
    assert.ok(await adminLogin(a.adminPort, 'gen', password));
    const list = JSON.parse(await ferryOk(envA, ['admin', 'list', '--json']));
    assert.deepEqual(
      list.map((u: any) => `${u.name}:${u.role}`),
      ['gen:operator', 'ops:operator', 'root:admin'],
    );
  });

  it('serves HTTPS with the self-signed certificate it made, and health without login', async () => {
    const certFile = path.join(envA.dataDir, 'admin-tls', 'cert.pem');
    assert.ok(fs.existsSync(certFile));
    // Trusting exactly that certificate, the connection verifies (it names 127.0.0.1).
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: a.adminPort, path: '/health/ready', ca: fs.readFileSync(certFile) }, (res) => (res.resume(), resolve(res.statusCode!)))
        .on('error', reject);
    });
    assert.equal(status, 200);
    const page = await adminRequest(a.adminPort, '/');
    assert.equal(page.status, 200);
    assert.match(page.body, /<div id="app">/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/);
    const openapi = await adminRequest(a.adminPort, '/openapi.json');
    assert.equal(openapi.status, 200);
    assert.equal(openapi.body.openapi.slice(0, 2), '3.');
    for (const p of ['/api/v1/login', '/api/v1/accounts', '/api/v1/transfers', '/api/v1/transfers/{id}/resubmit', '/api/v1/cluster']) {
      assert.ok(openapi.body.paths[p], `OpenAPI document lacks ${p}`);
    }
  });

  it('refuses requests without a valid login, and wrong passwords', async () => {
    const none = await adminRequest(a.adminPort, '/api/v1/accounts');
    assert.equal(none.status, 401);
    const forged = await adminRequest(a.adminPort, '/api/v1/accounts', { token: 'ferry_' + 'x'.repeat(43) });
    assert.equal(forged.status, 401);
    const wrong = await adminRequest(b.adminPort, '/api/v1/login', { method: 'POST', body: { name: 'root', password: 'not-it' } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'wrong name or password');
    const unknown = await adminRequest(b.adminPort, '/api/v1/login', { method: 'POST', body: { name: 'nobody', password: 'not-it' } });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body.error, 'wrong name or password');
  });

  it('every API route needs a login, however its URL is spelled; operators may change nothing but resubmit', async () => {
    const openapi = (await adminRequest(a.adminPort, '/openapi.json')).body;
    const routes: [string, string][] = [];
    for (const [route, methods] of Object.entries<any>(openapi.paths)) {
      if (!route.startsWith('/api/v1/') || route === '/api/v1/login') continue;
      for (const method of Object.keys(methods))
        routes.push([method.toUpperCase(), route.replace('{id}', '1').replace('{name}', 'x').replace('{fingerprint}', 'SHA256:x')]);
    }
    assert.ok(routes.length >= 20, `only ${routes.length} routes in the OpenAPI document`);
    const ops = await adminLogin(a.adminPort, 'ops', OPERATOR_PASSWORD);
    const operatorMay = new Set(['POST /api/v1/logout', 'POST /api/v1/tokens', 'DELETE /api/v1/tokens/1', 'POST /api/v1/transfers/1/resubmit']);
    for (const [method, url] of routes) {
      const body = method === 'GET' || method === 'DELETE' ? undefined : {};
      for (const spelling of [url, url.replace('/api/', '/%61pi/'), url.replace('/v1/', '/%76%31/')]) {
        const res = await adminRequest(a.adminPort, spelling, { method, body });
        assert.equal(res.status, 401, `${method} ${spelling} without a login: ${res.status} ${JSON.stringify(res.body)}`);
      }
      const absolute = await adminRequest(a.adminPort, `https://127.0.0.1:${a.adminPort}${url}`, { method, body });
      assert.equal(absolute.status, 401, `${method} ${url} as an absolute-form target: ${absolute.status}`);
      if (method !== 'GET' && !operatorMay.has(`${method} ${url}`)) {
        const res = await adminRequest(a.adminPort, url, { method, body, token: ops });
        assert.equal(res.status, 403, `${method} ${url} as operator: ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
    const unknown = await adminRequest(a.adminPort, '/api/v1/nothing-here', { token: rootToken });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /no GET \/api\/v1\/nothing-here/);
  });

  it('API tokens: made from a login session only, listed, revoked', async () => {
    const session = await adminLogin(a.adminPort, 'ops', OPERATOR_PASSWORD);
    const made = await adminRequest(a.adminPort, '/api/v1/tokens', { method: 'POST', token: session, body: { label: 'nightly-report', ttl: '30d' } });
    assert.equal(made.status, 200);
    const chained = await adminRequest(a.adminPort, '/api/v1/tokens', { method: 'POST', token: made.body.token, body: { label: 'longer', ttl: '366d' } });
    assert.equal(chained.status, 403);
    assert.match(chained.body.error, /made from a login session/);
    const listed = await adminRequest(b.adminPort, '/api/v1/tokens', { token: session });
    const mine = listed.body.find((t: any) => t.label === 'nightly-report');
    assert.equal(mine.kind, 'api');
    assert.equal(mine.user, 'ops');
    assert.ok(
      listed.body.every((t: any) => t.user === 'ops'),
      'an operator sees only their own tokens',
    );
    assert.ok(!JSON.stringify(listed.body).includes(made.body.token), 'tokens themselves are never listed');
    const all = await adminRequest(a.adminPort, '/api/v1/tokens', { token: rootToken });
    assert.ok(all.body.some((t: any) => t.user === 'root') && all.body.some((t: any) => t.user === 'ops'), 'an admin sees everyone’s');
    assert.equal((await adminRequest(a.adminPort, `/api/v1/tokens/${mine.id}`, { method: 'DELETE', token: rootToken })).status, 200);
    assert.equal((await adminRequest(b.adminPort, '/api/v1/me', { token: made.body.token })).status, 401);
  });

  it('a token from one node is valid on the other; a session cookie is HttpOnly, Secure, SameSite=Strict', async () => {
    const me = await adminRequest(b.adminPort, '/api/v1/me', { token: rootToken });
    assert.equal(me.status, 200);
    assert.deepEqual(me.body, { name: 'root', role: 'admin' });
    const login = await adminRequest(b.adminPort, '/api/v1/login', { method: 'POST', body: { name: 'ops', password: OPERATOR_PASSWORD } });
    const cookie = String(login.headers['set-cookie']);
    assert.match(cookie, /ferry_session=ferry_/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /Secure/);
    assert.match(cookie, /SameSite=Strict/);
    const session = cookie.split(';')[0]!;
    const viaCookie = await adminRequest(a.adminPort, '/api/v1/me', { headers: { cookie: session } });
    assert.deepEqual(viaCookie.body, { name: 'ops', role: 'operator' });
    // A cookie-carrying POST from another site's page is refused.
    const crossSite = await adminRequest(a.adminPort, '/api/v1/logout', { method: 'POST', headers: { cookie: session, origin: 'https://evil.example' } });
    assert.equal(crossSite.status, 403);
    const logout = await adminRequest(a.adminPort, '/api/v1/logout', { method: 'POST', headers: { cookie: session } });
    assert.equal(logout.status, 200);
    assert.equal((await adminRequest(b.adminPort, '/api/v1/me', { headers: { cookie: session } })).status, 401);
  });

  it('an operator reads but may not change accounts', async () => {
    const ops = await adminLogin(a.adminPort, 'ops', OPERATOR_PASSWORD);
    assert.equal((await adminRequest(a.adminPort, '/api/v1/accounts', { token: ops })).status, 200);
    const create = await adminRequest(a.adminPort, '/api/v1/accounts', { method: 'POST', token: ops, body: { name: 'mallory', password: 'pw' } });
    assert.equal(create.status, 403);
    assert.match(create.body.error, /needs the admin role; ops is operator/);
    const accounts = await adminRequest(a.adminPort, '/api/v1/accounts', { token: rootToken });
    assert.ok(!accounts.body.some((x: any) => x.name === 'mallory'));
  });

  it('accounts made over the API log in over SFTP on every node; disable and keys take effect at once', async () => {
    const created = await adminRequest(a.adminPort, '/api/v1/accounts', { method: 'POST', token: rootToken, body: { name: 'carol', password: 'carol-pw' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.state, 'enabled');
    const login = { port: b.sftpPort, user: 'carol', password: 'carol-pw', dir };
    const local = path.join(dir, 'report,1.csv');
    fs.writeFileSync(local, 'a,b\n1,2\n');
    const put = await sftpBatch(login, [`put "${local}" report,1.csv`]);
    assert.equal(put.code, 0, put.stderr);

    const found = await adminRequest(a.adminPort, `/api/v1/transfers?account=carol&path=${encodeURIComponent('t,1')}&status=completed`, { token: rootToken });
    assert.equal(found.status, 200);
    assert.equal(found.body.transfers.length, 1);
    assert.equal(found.body.transfers[0].path, '/report,1.csv');
    assert.equal(found.body.transfers[0].bytes, 8);
    const anyCase = await adminRequest(a.adminPort, `/api/v1/transfers?path=${encodeURIComponent('REPORT,1')}`, { token: rootToken });
    assert.deepEqual(
      anyCase.body.transfers.map((t: any) => t.path),
      ['/report,1.csv'],
      'the path search ignores case on PostgreSQL too',
    );
    for (const literal of ['%', '_', '\\']) {
      const none = await adminRequest(a.adminPort, `/api/v1/transfers?path=${encodeURIComponent(literal)}`, { token: rootToken });
      assert.equal(none.body.transfers.length, 0, `"${literal}" is searched for literally`);
    }
    const throughput = await adminRequest(b.adminPort, '/api/v1/throughput?minutes=5', { token: rootToken });
    assert.equal(throughput.status, 200);
    const uploads = throughput.body.minutes.filter((m: any) => m.direction === 'upload');
    assert.ok(uploads.length > 0 && uploads.every((m: any) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/.test(m.minute)), JSON.stringify(throughput.body));
    assert.ok(uploads.reduce((sum: number, m: any) => sum + m.bytes, 0) >= 8, 'the upload counts in the chart');
    const detail = await adminRequest(a.adminPort, `/api/v1/transfers/${found.body.transfers[0].id}`, { token: rootToken });
    assert.match(detail.body.sha256, /^[0-9a-f]{64}$/);
    const notUpload = await adminRequest(a.adminPort, `/api/v1/transfers/${found.body.transfers[0].id}/resubmit`, { method: 'POST', token: rootToken });
    assert.equal(notUpload.status, 400);
    assert.match(notUpload.body.error, /only deliveries can be resubmitted/);

    const badNetwork = await adminRequest(a.adminPort, '/api/v1/accounts/carol', {
      method: 'PATCH',
      token: rootToken,
      body: { disabled: true, allowFrom: ['10.1.2.3/8'] },
    });
    assert.equal(badNetwork.status, 400);
    assert.match(badNetwork.body.error, /10\.0\.0\.0\/8/);
    const elsewhere = await adminRequest(a.adminPort, '/api/v1/accounts/carol', { method: 'PATCH', token: rootToken, body: { allowFrom: ['192.0.2.0/24'] } });
    assert.deepEqual(elsewhere.body.allowFrom, ['192.0.2.0/24']);
    assert.equal(elsewhere.body.state, 'enabled', 'the refused PATCH changed nothing');
    assert.notEqual((await sftpBatch(login, ['pwd'])).code, 0, 'a login from outside the allowed network is refused');
    await adminRequest(a.adminPort, '/api/v1/accounts/carol', { method: 'PATCH', token: rootToken, body: { allowFrom: null } });
    const disabled = await adminRequest(a.adminPort, '/api/v1/accounts/carol', { method: 'PATCH', token: rootToken, body: { disabled: true } });
    assert.equal(disabled.body.state, 'disabled');
    assert.notEqual((await sftpBatch(login, ['pwd'])).code, 0);
    await adminRequest(a.adminPort, '/api/v1/accounts/carol', { method: 'PATCH', token: rootToken, body: { disabled: false } });

    const key = sshKeygen(dir, 'carol_key');
    const added = await adminRequest(a.adminPort, '/api/v1/accounts/carol/keys', {
      method: 'POST',
      token: rootToken,
      body: { key: fs.readFileSync(key + '.pub', 'utf8') },
    });
    assert.equal(added.status, 201);
    assert.equal(added.body.keys.length, 1);
    assert.equal((await sftpBatch({ port: a.sftpPort, user: 'carol', keyFile: key, dir }, ['pwd'])).code, 0);
    const again = await adminRequest(a.adminPort, '/api/v1/accounts/carol/keys', {
      method: 'POST',
      token: rootToken,
      body: { key: fs.readFileSync(key + '.pub', 'utf8') },
    });
    assert.equal(again.status, 409);
    const removed = await adminRequest(a.adminPort, `/api/v1/accounts/carol/keys/${encodeURIComponent(added.body.keys[0].fingerprint)}`, {
      method: 'DELETE',
      token: rootToken,
    });
    assert.equal(removed.body.keys.length, 0);
    assert.notEqual((await sftpBatch({ port: a.sftpPort, user: 'carol', keyFile: key, dir }, ['pwd'])).code, 0);
  });

  it('bad input gets a clear 4xx and changes nothing', async () => {
    const before = (await adminRequest(a.adminPort, '/api/v1/accounts', { token: rootToken })).body.length;
    const cases: [string, string, unknown, number, RegExp][] = [
      ['POST', '/api/v1/accounts', { name: '../evil', password: 'x' }, 400, /invalid account name/],
      ['POST', '/api/v1/accounts', { name: 'dave', home: '../../etc', password: 'x' }, 400, /invalid home/],
      ['POST', '/api/v1/accounts', { name: 'dave', keys: ['ssh-ed25519 AAAAnot-a-key'] }, 400, /invalid key/],
      ['POST', '/api/v1/accounts', { name: 'dave' }, 400, /needs a password or at least one key/],
      ['POST', '/api/v1/accounts', { name: 'carol', password: 'x' }, 409, /already exists/],
      ['POST', '/api/v1/accounts', { nam: 'x' }, 400, /invalid body/],
      ['GET', '/api/v1/accounts/nobody', undefined, 404, /no account named "nobody"/],
      ['GET', '/api/v1/transfers?since=yesterday', undefined, 400, /invalid querystring/],
      ['GET', '/api/v1/transfers/999999', undefined, 404, /no transfer with id 999999/],
      ['DELETE', '/api/v1/routes/none', undefined, 404, /no route named "none"/],
    ];
    for (const [method, url, body, status, message] of cases) {
      const res = await adminRequest(a.adminPort, url, { method, body, token: rootToken });
      assert.equal(res.status, status, `${method} ${url}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error, message, `${method} ${url}`);
    }
    const bad = await adminRequest(a.adminPort, '/api/v1/accounts', {
      method: 'POST',
      token: rootToken,
      headers: { 'content-type': 'application/json' },
      body: undefined,
    });
    assert.ok(bad.status >= 400 && bad.status < 500);
    assert.equal((await adminRequest(a.adminPort, '/api/v1/accounts', { token: rootToken })).body.length, before);
  });

  it('a new admin password ends the old sessions and tokens', async () => {
    await ferryOk(envA, ['admin', 'add', 'temp', '--role', 'admin', '--password-stdin'], 'temp-password-1\n');
    const token = await adminLogin(a.adminPort, 'temp', 'temp-password-1');
    const apiToken = (await adminRequest(a.adminPort, '/api/v1/tokens', { method: 'POST', token, body: { label: 'script', ttl: '1d' } })).body.token;
    assert.equal((await adminRequest(b.adminPort, '/api/v1/me', { token: apiToken })).status, 200);
    await ferryOk(envA, ['admin', 'passwd', 'temp'], 'temp-password-2\n');
    assert.equal((await adminRequest(a.adminPort, '/api/v1/me', { token })).status, 401);
    assert.equal((await adminRequest(b.adminPort, '/api/v1/me', { token: apiToken })).status, 401);
  });

  it('rate-limits logins per client address', async () => {
    // FERRY_ADMIN_LOGIN_RATE_LIMIT=12 per minute: earlier tests used some of node b's budget.
    const codes: number[] = [];
    for (let i = 0; i < 16; i++) {
      codes.push((await adminRequest(b.adminPort, '/api/v1/login', { method: 'POST', body: { name: 'root', password: 'guess' + i } })).status);
    }
    assert.ok(codes.includes(429), `no 429 among ${codes}`);
    assert.equal(codes.at(-1), 429);
    // The right password is refused too while limited: the limit is on attempts, not failures.
    const right = await adminRequest(b.adminPort, '/api/v1/login', { method: 'POST', body: { name: 'root', password: ROOT_PASSWORD } });
    assert.equal(right.status, 429);
    // Other nodes count their own attempts.
    assert.equal((await adminRequest(a.adminPort, '/api/v1/login', { method: 'POST', body: { name: 'root', password: ROOT_PASSWORD } })).status, 200);
  });

  it('uses a configured certificate when admin.tls_cert and admin.tls_key are set', async () => {
    const pki = path.join(dir, 'pki');
    await ferryOk(envA, ['pki', 'init', pki]);
    await ferryOk(envA, ['pki', 'issue', 'edge', 'admin-c', '--dir', pki, '--host', '127.0.0.1']);
    const envC: FerryEnv = {
      ...envA,
      dataDir: path.join(dir, 'c'),
      extra: { ...envA.extra, FERRY_NODE_NAME: 'c', FERRY_ADMIN_TLS_CERT: path.join(pki, 'admin-c.crt'), FERRY_ADMIN_TLS_KEY: path.join(pki, 'admin-c.key') },
    };
    const c = await startNode(envC);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        https
          .get(
            { host: '127.0.0.1', port: c.adminPort, path: '/health/live', ca: fs.readFileSync(path.join(pki, 'ca.crt')) },
            (res) => (res.resume(), resolve(res.statusCode!)),
          )
          .on('error', reject);
      });
      assert.equal(status, 200);
      assert.ok(!fs.existsSync(path.join(envC.dataDir, 'admin-tls')));
    } finally {
      await c.kill('SIGKILL');
    }
  });
});
