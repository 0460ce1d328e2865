import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAllowed, parseAllowFrom } from '../src/accounts/allow-from.js';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { edgeSetup, makeTunnelPki, readyNodesAt, type EdgeSetup } from './harness/edges.js';
import { ferryOk, runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { sftpBatch, sshKeygen, type Login } from './harness/openssh.js';
import { waitFor } from './harness/wait.js';

const PASSWORD = 'correct horse battery';
const from = (address: string) => ['-o', `BindAddress=${address}`];

describe('IP allow-lists: parsing and matching', () => {
  it('keeps networks in canonical form and matches IPv4, IPv6 and IPv4-mapped IPv6 addresses', () => {
    const list = parseAllowFrom(['192.0.2.0/24', '2001:DB8:0::/32', '198.51.100.7', '::ffff:10.0.0.0/104', '192.0.2.0/24']);
    assert.deepEqual(list, ['192.0.2.0/24', '2001:db8::/32', '198.51.100.7/32', '::ffff:10.0.0.0/104']);
    const cases: Array<[string, boolean]> = [
      ['192.0.2.200', true],
      ['192.0.3.1', false],
      ['::ffff:192.0.2.200', true], // what a dual-stack listener reports for an IPv4 client
      ['::ffff:c000:2c8', true], // the same address written in hex
      ['::ffff:192.0.3.1', false],
      ['198.51.100.7', true],
      ['198.51.100.8', false],
      ['2001:db8:ffff::1', true],
      ['2001:db9::1', false],
      ['10.200.0.1', true], // an IPv4 client against a network written IPv4-mapped
      ['11.0.0.1', false],
      ['fe80::1%eth0', false],
      ['', false],
      ['not an address', false],
    ];
    for (const [address, expected] of cases) assert.equal(isAllowed(list, address), expected, address);
    assert.equal(isAllowed(null, '203.0.113.9'), true, 'no list: any address');
    assert.deepEqual(parseAllowFrom(['2001:db8::1']), ['2001:db8::1/128']);
  });

  it('refuses what is not a network, naming it', () => {
    for (const [entry, message] of [
      ['10.1.2.3/8', /"10\.1\.2\.3\/8": it has bits set past \/8; did you mean 10\.0\.0\.0\/8\?/],
      ['2001:db8::1/32', /did you mean 2001:db8::\/32\?/],
      ['1.2.3.4/33', /prefix length must be 0 to 32/],
      ['::/129', /prefix length must be 0 to 128/],
      ['1.2.3.4/', /prefix length/],
      ['example.com', /"example\.com": give an IPv4 or IPv6 address/],
      ['fe80::1%eth0', /give an IPv4 or IPv6 address/],
      ['010.1.1.1', /give an IPv4 or IPv6 address/],
    ] as const) {
      assert.throws(() => parseAllowFrom([entry]), message, entry);
    }
  });
});

describe('IP allow-lists: a node checks the client address it sees, directly and through an edge', () => {
  let dir: string;
  let env: FerryEnv;
  let edge: EdgeSetup;
  let edgeProcess: RunningNode | undefined;
  let node: RunningNode | undefined;
  let key: string;
  let ports: { direct: number; edge: number };

  const keyLogin = (port: number, user = 'partner'): Login => ({ port, user, keyFile: key, dir });
  const passwordLogin = (port: number, password = PASSWORD): Login => ({ port, user: 'partner', password, dir });
  const account = async (name: string) => JSON.parse(await ferryOk(env, ['account', 'show', name, '--json']));
  const uploads = async () => JSON.parse(await ferryOk(env, ['transfers', 'list', '--json', '--limit', '1000'])).filter((t: any) => t.direction === 'upload');

  /** Uploads a small file and checks it arrived whole. */
  const uploadWorks = async (login: Login, address: string, name: string) => {
    const file = path.join(dir, name);
    const sha = writeRandomFile(file, 256 * 1024, name.length);
    const r = await sftpBatch(login, [`put ${file} ${name}`], from(address));
    assert.equal(r.code, 0, `${login.user} from ${address}: ${r.stderr}`);
    assert.equal(sha256File(path.join(dir, 'storage', login.user, name)), sha);
  };
  const refused = async (login: Login, address: string) => {
    const r = await sftpBatch(login, ['pwd'], from(address));
    assert.notEqual(r.code, 0, `${login.user} from ${address} must be refused`);
    assert.match(r.stderr, /Permission denied \(publickey,password\)/);
    return r.stderr;
  };

  before(async () => {
    dir = tempDir();
    const pki = await makeTunnelPki(dir, ['edge1'], ['n1']);
    edge = await edgeSetup(dir, 'edge1', pki);
    env = {
      dataDir: path.join(dir, 'n1'),
      databaseUrl: await preparedDatabaseUrl('postgres', dir),
      storageDir: path.join(dir, 'storage'),
      extra: { ...pki.tlsEnv('n1'), FERRY_NODE_NAME: 'n1', FERRY_EDGES: edge.tunnel, FERRY_ACCOUNTS_LOCKOUT_FAILURES: '3' },
    };
    key = sshKeygen(dir);
    await ferryOk(
      env,
      ['account', 'add', 'partner', '--password-stdin', '--key', key + '.pub', '--allow-from', '127.0.0.2', '--allow-from', '2001:db8::/32'],
      PASSWORD + '\n',
    );
    await ferryOk(env, ['account', 'add', 'anyone', '--key', key + '.pub']);
    edgeProcess = await startNode(edge.env, { command: 'edge', cwd: edge.cwd });
    node = await startNode(env);
    ports = { direct: node.sftpPort, edge: edge.ports.sftp };
    await waitFor('the node ready behind the edge', async () => (await readyNodesAt(edge.ports.health)).join() === 'n1', 20_000);
  });

  after(async () => {
    for (const p of [node, edgeProcess]) await p?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the list on the account (account show) and refuses a bad network, changing nothing', async () => {
    assert.deepEqual((await account('partner')).allowFrom, ['127.0.0.2/32', '2001:db8::/32']);
    assert.equal((await account('anyone')).allowFrom, null);
    assert.match(await ferryOk(env, ['account', 'show', 'partner']), /allowed from:\s+127\.0\.0\.2\/32 2001:db8::\/32\n/);

    const bad = await runFerry(['account', 'add', 'typo', '--key', key + '.pub', '--allow-from', '127.0.0.2', '--allow-from', '10.0.0.1/8'], env);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'ferry: invalid network "10.0.0.1/8": it has bits set past /8; did you mean 10.0.0.0/8?\n');
    assert.equal((await runFerry(['account', 'show', 'typo'], env)).code, 1, 'no account was created');

    const badChange = await runFerry(['account', 'allow-from', 'partner', '127.0.0.3', 'localhost'], env);
    assert.equal(badChange.code, 1);
    assert.match(badChange.stderr, /^ferry: invalid network "localhost"/);
    const neither = await runFerry(['account', 'allow-from', 'partner'], env);
    assert.equal(neither.code, 1);
    assert.match(neither.stderr, /give either the networks .* or --any/);
    const both = await runFerry(['account', 'allow-from', 'partner', '127.0.0.3', '--any'], env);
    assert.equal(both.code, 1);
    assert.deepEqual((await account('partner')).allowFrom, ['127.0.0.2/32', '2001:db8::/32'], 'the list is unchanged');
  });

  for (const route of ['direct', 'edge'] as const) {
    it(`${route}: lets a listed address in (key and password) and refuses any other, whether the password is right or not`, async () => {
      const port = ports[route];
      await uploadWorks(keyLogin(port), '127.0.0.2', `${route}-key.bin`);
      await uploadWorks(passwordLogin(port), '127.0.0.2', `${route}-password.bin`);
      await refused(keyLogin(port), '127.0.0.3');
      const rightPassword = await refused(passwordLogin(port), '127.0.0.3');
      const wrongPassword = await refused(passwordLogin(port, 'wrong'), '127.0.0.3');
      assert.equal(rightPassword, wrongPassword, 'the client cannot tell a right password from a wrong one');
      await uploadWorks(keyLogin(port, 'anyone'), '127.0.0.3', `${route}-anyone.bin`);

      const rows = (await uploads()).filter((t: any) => t.path.startsWith(`/${route}-`));
      // Through the edge the node's own peer is the edge (127.0.0.1): the address checked and logged is the carried one.
      assert.deepEqual(rows.map((t: any) => [t.account, t.client, t.status]).sort(), [
        ['anyone', '127.0.0.3', 'completed'],
        ['partner', '127.0.0.2', 'completed'],
        ['partner', '127.0.0.2', 'completed'],
      ]);
      const logged = node!.logs.filter((l) => l.msg === 'login refused' && l.reason === 'address-not-allowed' && l.account === 'partner');
      assert.ok(logged.length >= 3, 'every refused attempt is logged');
      assert.ok(
        logged.every((l) => l.client === '127.0.0.3'),
        'with the client’s address',
      );
    });
  }

  it('does not count a refused address toward lockout: someone outside the list cannot lock the account', async () => {
    for (let i = 0; i < 4; i++) await refused(passwordLogin(ports.direct, 'wrong'), '127.0.0.3');
    const after = await account('partner');
    assert.equal(after.state, 'enabled');
    assert.equal(after.lockout.recentFailures, 0);
    // The contrast: a wrong password from an allowed address is a guess and counts.
    await refused(passwordLogin(ports.direct, 'wrong'), '127.0.0.2');
    assert.equal((await account('partner')).lockout.recentFailures, 1);
    assert.equal((await account('partner')).lockout.lastFailureAddress, '127.0.0.2');
    await uploadWorks(passwordLogin(ports.direct), '127.0.0.2', 'still-works.bin');
  });

  it('takes a changed list into account at the next login on the running node, and --any lifts it', async () => {
    const changed = await ferryOk(env, ['account', 'allow-from', 'partner', '127.0.0.3/32']);
    assert.equal(changed, 'account partner accepts logins from 127.0.0.3/32\n');
    for (const port of [ports.direct, ports.edge]) {
      await refused(keyLogin(port), '127.0.0.2');
      const r = await sftpBatch(keyLogin(port), ['pwd'], from('127.0.0.3'));
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(await ferryOk(env, ['account', 'allow-from', 'partner', '--any']), 'account partner accepts logins from any address\n');
    assert.equal((await account('partner')).allowFrom, null);
    for (const address of ['127.0.0.2', '127.0.0.3']) {
      const r = await sftpBatch(keyLogin(ports.edge), ['pwd'], from(address));
      assert.equal(r.code, 0, r.stderr);
    }
  });
});
