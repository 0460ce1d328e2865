import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DATABASE_KINDS, preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { ferryOk, runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { sftpBatch, sshKeygen, type Login } from './harness/openssh.js';
import { freePort } from './harness/ports.js';
import { startSshd, type SshdServer } from './harness/sshd.js';
import { partnerCertificate } from './harness/tls.js';
import { waitFor } from './harness/wait.js';

const QUICK_RETRIES = {
  FERRY_QUEUE_MAX_ATTEMPTS: '3',
  FERRY_QUEUE_RETRY_DELAY: '200ms',
  FERRY_QUEUE_POLL_INTERVAL: '200ms',
};

const ferry = ferryOk;

async function transfers(env: FerryEnv, direction: string): Promise<any[]> {
  const all = JSON.parse(await ferry(env, ['transfers', 'list', '--json']));
  return all.filter((t: any) => t.direction === direction);
}

/** Files in a directory, temporary ones included. */
function listing(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

for (const kind of DATABASE_KINDS) {
  describe(`routing on ${kind}`, () => {
    let dir: string;
    let env: FerryEnv;
    let node: RunningNode;
    let sshd: SshdServer;
    let alice: Login;
    let partnerKey: string;

    before(async () => {
      dir = tempDir();
      env = { dataDir: path.join(dir, 'data'), databaseUrl: await preparedDatabaseUrl(kind, dir), extra: QUICK_RETRIES };
      const clientKey = sshKeygen(dir);
      partnerKey = sshKeygen(dir, 'partner_key');
      sshd = await startSshd(path.join(dir, 'partner'), partnerKey + '.pub');
      await ferry(env, ['account', 'add', 'alice', '--key', clientKey + '.pub']);
      await ferry(env, ['account', 'add', 'bob', '--password-stdin'], 'bob-secret\n');
      alice = { port: 0, user: 'alice', keyFile: clientKey, dir };
      node = await startNode(env);
      alice.port = node.sftpPort;
    });

    after(async () => {
      await node?.kill('SIGKILL');
      await sshd?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('copies an upload into another account and pushes it to an SFTP partner, then deletes the source', async () => {
      const inbox = path.join(sshd.filesDir, 'inbox');
      fs.mkdirSync(inbox);
      await ferry(env, ['partner', 'add', 'bank', '--url', `sftp://root@127.0.0.1:${sshd.port}${inbox}`, '--key', partnerKey, '--host-key', sshd.hostKeyPub]);
      await ferry(env, ['route', 'add', 'to-bank', '--account', 'alice', '--path', 'out/*.csv', '--copy-to', 'bob/in', '--push', 'bank', '--then', 'delete']);
      const shown = JSON.parse(await ferry(env, ['route', 'show', 'to-bank', '--json']));
      assert.deepEqual(shown.steps, [
        { type: 'copy', account: 'bob', dir: '/in' },
        { type: 'push', partner: 'bank' },
      ]);

      const local = path.join(dir, 'pay.csv');
      const expected = writeRandomFile(local, 3 * 1024 * 1024 + 17);
      const ignored = path.join(dir, 'notes.txt');
      writeRandomFile(ignored, 1000);
      const r = await sftpBatch(alice, ['mkdir out', `put ${local} out/pay.csv`, `put ${ignored} out/notes.txt`]);
      assert.equal(r.code, 0, r.stderr);

      const delivered = await waitFor('the delivery', async () => (await transfers(env, 'delivery')).find((t) => t.status === 'completed'), 30_000);
      assert.equal(delivered.sha256, expected);
      assert.equal(delivered.path, '/out/pay.csv');
      assert.equal(delivered.attempts, 1);
      assert.equal(delivered.bytes, 2 * fs.statSync(local).size, 'both steps counted');
      assert.match(delivered.destination, /account:bob\/in\/pay\.csv, 127\.0\.0\.1:\d+.*\/inbox\/pay\.csv/);

      assert.equal(sha256File(path.join(inbox, 'pay.csv')), expected);
      assert.deepEqual(listing(inbox), ['pay.csv'], 'no temporary file left at the partner');
      assert.equal(sha256File(path.join(env.dataDir, 'files', 'bob', 'in', 'pay.csv')), expected);
      await waitFor('the source deleted', () => !fs.existsSync(path.join(env.dataDir, 'files', 'alice', 'out', 'pay.csv')), 5_000);
      assert.ok(fs.existsSync(path.join(env.dataDir, 'files', 'alice', 'out', 'notes.txt')), 'a file the glob does not match stays');
      assert.equal((await transfers(env, 'delivery')).length, 1, 'only the matching file was routed');

      const history = JSON.parse(await ferry(env, ['transfers', 'show', String(delivered.id), '--json'])).history;
      assert.equal(history.length, 1);
      assert.equal(history[0].status, 'completed');
      await ferry(env, ['route', 'remove', 'to-bank']);
    });

    it('retries a partner that is down, marks the delivery failed after the last attempt, and a resubmit delivers it', async () => {
      const port = await freePort();
      const downDir = path.join(dir, 'down-partner');
      await ferry(env, ['partner', 'add', 'later', '--url', `sftp://root@127.0.0.1:${port}${downDir}/files`, '--key', partnerKey]);
      await ferry(env, ['route', 'add', 'to-later', '--account', 'alice', '--path', 'late/**', '--push', 'later', '--rename', '{base}-{date}{ext}']);
      const local = path.join(dir, 'late.bin');
      writeRandomFile(local, 200_000, 7);
      const r = await sftpBatch(alice, ['mkdir late', `put ${local} late/report.bin`]);
      assert.equal(r.code, 0, r.stderr);

      const failed = await waitFor(
        'the delivery to fail',
        async () => (await transfers(env, 'delivery')).find((t) => t.path === '/late/report.bin' && t.status === 'failed'),
        30_000,
      );
      assert.equal(failed.attempts, 3);
      assert.match(failed.error, /cannot connect to 127\.0\.0\.1:\d+/);
      const shown = JSON.parse(await ferry(env, ['transfers', 'show', String(failed.id), '--json']));
      assert.deepEqual(
        shown.history.map((a: any) => [a.attempt, a.status]),
        [
          [1, 'failed'],
          [2, 'failed'],
          [3, 'failed'],
        ],
      );

      const again = await runFerry(['transfers', 'resubmit', String(failed.id - 1)], env);
      assert.equal(again.code, 1, 'an upload cannot be resubmitted');
      assert.match(again.stderr, /not a delivery/);

      const partner = await startSshd(downDir, partnerKey + '.pub', { port });
      try {
        assert.match(await ferry(env, ['transfers', 'resubmit', String(failed.id)]), /queued again/);
        const done = await waitFor(
          'the resubmitted delivery',
          async () => (await transfers(env, 'delivery')).find((t) => t.id === failed.id && t.status === 'completed'),
          30_000,
        );
        assert.equal(done.sha256, sha256File(local));
        // Attempt numbers go on across the resubmit: the fourth attempt delivered it.
        assert.equal(done.attempts, 4);
        const history = JSON.parse(await ferry(env, ['transfers', 'show', String(failed.id), '--json'])).history;
        assert.deepEqual(
          history.map((a: any) => [a.attempt, a.status]),
          [
            [1, 'failed'],
            [2, 'failed'],
            [3, 'failed'],
            [4, 'completed'],
          ],
        );
        const today = new Date().toISOString().slice(0, 10).replaceAll('-', '');
        assert.deepEqual(listing(partner.filesDir), [`report-${today}.bin`]);
        assert.equal(sha256File(path.join(partner.filesDir, `report-${today}.bin`)), sha256File(local));
        const second = await runFerry(['transfers', 'resubmit', String(failed.id)], env);
        assert.equal(second.code, 1, 'a completed delivery is not sent again');
        assert.match(second.stderr, /is completed: only a failed delivery/);
        const partnerShown = JSON.parse(await ferry(env, ['partner', 'show', 'later', '--json']));
        assert.match(partnerShown.hostKey, /^SHA256:/, 'the host key was pinned at first contact');
      } finally {
        await partner.stop();
      }
      await ferry(env, ['route', 'remove', 'to-later']);
    });

    it('pushes to a Ferry partner that takes a password (here: account bob on this same node)', async () => {
      await ferry(env, ['partner', 'add', 'ferry-bob', '--url', `sftp://bob@127.0.0.1:${node.sftpPort}/incoming`, '--password-stdin'], 'bob-secret\n');
      await ferry(env, ['route', 'add', 'to-bob', '--account', 'alice', '--path', 'for-bob/*', '--push', 'ferry-bob']);
      const local = path.join(dir, 'hello.bin');
      const sha = writeRandomFile(local, 2 * 1024 * 1024 + 5, 11);
      const r = await sftpBatch(alice, ['mkdir for-bob', `put ${local} for-bob/hello.bin`]);
      assert.equal(r.code, 0, r.stderr);
      const done = await waitFor(
        'the push to bob',
        async () => (await transfers(env, 'delivery')).find((t) => t.path === '/for-bob/hello.bin' && t.status === 'completed'),
        30_000,
      );
      assert.equal(done.sha256, sha);
      const incoming = path.join(env.dataDir, 'files', 'bob', 'incoming');
      assert.deepEqual(listing(incoming), ['hello.bin']);
      assert.equal(sha256File(path.join(incoming, 'hello.bin')), sha);
      const arrivals = (await transfers(env, 'upload')).filter((t) => t.account === 'bob');
      assert.ok(
        arrivals.some((t) => t.status === 'completed' && t.sha256 === sha),
        'the partner logged a complete upload with the same SHA-256',
      );
      await ferry(env, ['route', 'remove', 'to-bob']);
    });

    it('delivers the version that was uploaded to every route, even when one route deletes the source first', async () => {
      await ferry(env, ['route', 'add', 'multi-push', '--account', 'alice', '--path', 'multi/*', '--push', 'bank', '--then', 'delete']);
      await ferry(env, ['route', 'add', 'multi-copy', '--account', 'alice', '--path', 'multi/*', '--copy-to', 'bob/multi']);
      const local = path.join(dir, 'both.bin');
      const sha = writeRandomFile(local, 1024 * 1024, 21);
      const r = await sftpBatch(alice, ['mkdir multi', `put ${local} multi/both.bin`]);
      assert.equal(r.code, 0, r.stderr);
      const rows = await waitFor(
        'both deliveries',
        async () => {
          const all = (await transfers(env, 'delivery')).filter((t) => t.path === '/multi/both.bin');
          return all.length === 2 && all.every((t) => t.status === 'completed') && all;
        },
        30_000,
      );
      assert.deepEqual(
        rows.map((t: any) => t.sha256),
        [sha, sha],
      );
      assert.equal(sha256File(path.join(env.dataDir, 'files', 'bob', 'multi', 'both.bin')), sha);
      const inbox = path.join(sshd.filesDir, 'inbox');
      assert.equal(sha256File(path.join(inbox, 'both.bin')), sha);
      await waitFor('the source deleted', () => !fs.existsSync(path.join(env.dataDir, 'files', 'alice', 'multi', 'both.bin')), 5_000);
      await ferry(env, ['route', 'remove', 'multi-push']);
      await ferry(env, ['route', 'remove', 'multi-copy']);
    });

    it('refuses bad routes and partners with a clear error and stores nothing', async () => {
      const cases: Array<[string[], RegExp, string?]> = [
        [['partner', 'add', 'x', '--url', 'ftp://h/d', '--password-stdin'], /--url must be sftp:\/\/USER@HOST/, 'pw\n'],
        [['partner', 'add', 'x', '--url', 'sftp://h/d', '--password-stdin'], /needs a user/, 'pw\n'],
        [['partner', 'add', 'x', '--url', 'sftp://u:pw@h/d', '--password-stdin'], /do not put a password in the URL/, 'pw\n'],
        [['partner', 'add', 'x', '--url', 'sftp://u@h/d'], /needs --key FILE or --password-stdin/],
        [['partner', 'add', 'x y', '--url', 'https://h/d'], /invalid partner name/],
        [['partner', 'add', 'x', '--url', 'https://h/d', '--header', 'nocolon'], /invalid header/],
        [['route', 'add', 'r', '--account', 'alice'], /at least one --push or --copy-to/],
        [['route', 'add', 'r', '--account', 'nobody', '--copy-to', 'bob'], /no account named "nobody"/],
        [['route', 'add', 'r', '--account', 'alice', '--push', 'nowhere'], /no partner named "nowhere"/],
        [['route', 'add', 'r', '--account', 'alice', '--copy-to', 'bob', '--then', 'shred'], /--then must be delete or archive/],
        [['route', 'add', 'r', '--account', 'alice', '--copy-to', 'bob', '--rename', '{nope}'], /unknown token \{nope\}/],
        [['transfers', 'resubmit', '999999'], /no transfer with id 999999/],
        [['partner', 'remove', 'bank'], /used by route|no partner/],
      ];
      await ferry(env, ['route', 'add', 'keeps-bank', '--account', 'alice', '--push', 'bank']);
      for (const [args, error, input] of cases) {
        const r = await runFerry(args, env, input);
        assert.equal(r.code, 1, `${args.join(' ')} should fail`);
        assert.match(r.stderr, error, args.join(' '));
      }
      const routes = JSON.parse(await ferry(env, ['route', 'list', '--json']));
      assert.deepEqual(
        routes.map((x: any) => x.name),
        ['keeps-bank'],
      );
      const partners = JSON.parse(await ferry(env, ['partner', 'list', '--json']));
      assert.deepEqual(partners.map((x: any) => x.name).sort(), ['bank', 'ferry-bob', 'later']);
      assert.ok(!JSON.stringify(partners).includes('PRIVATE KEY'), 'secrets never shown');
      await ferry(env, ['route', 'remove', 'keeps-bank']);
    });
  });
}

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** An HTTPS partner with a self-signed certificate for 127.0.0.1 that records what it receives. */
async function startHttpsPartner(
  dir: string,
  answer: (r: Received) => number,
): Promise<{ port: number; cert: string; received: Received[]; close(): Promise<void> }> {
  const { key, cert, certFile } = partnerCertificate(dir, 'https-');
  const received: Received[] = [];
  const server = https.createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      received.push(r);
      res.statusCode = answer(r);
      res.end(res.statusCode >= 400 ? 'refused by test partner' : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cert: certFile,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The content of the part named `file` in a multipart/form-data body. */
function multipartFile(r: Received): { filename: string; content: Buffer } {
  const boundary = /boundary=(.+)$/.exec(r.headers['content-type'] ?? '')?.[1];
  assert.ok(boundary, 'multipart boundary');
  const head = r.body.indexOf('\r\n\r\n');
  const filename = /filename="([^"]*)"/.exec(r.body.subarray(0, head).toString())![1]!;
  const end = r.body.lastIndexOf(Buffer.from(`\r\n--${boundary}--`));
  return { filename, content: r.body.subarray(head + 4, end) };
}

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

describe('routing over HTTPS, scheduled pulls and archiving (SQLite)', () => {
  let dir: string;
  let env: FerryEnv;
  let node: RunningNode;
  let alice: Login;
  let partnerKey: string;

  before(async () => {
    dir = tempDir();
    env = { dataDir: path.join(dir, 'data'), databaseUrl: await preparedDatabaseUrl('sqlite', dir), extra: QUICK_RETRIES };
    const clientKey = sshKeygen(dir);
    partnerKey = sshKeygen(dir, 'partner_key');
    await ferry(env, ['account', 'add', 'alice', '--key', clientKey + '.pub']);
    await ferry(env, ['account', 'add', 'bob', '--password-stdin'], 'bob-secret\n');
    alice = { port: 0, user: 'alice', keyFile: clientKey, dir };
    node = await startNode(env);
    alice.port = node.sftpPort;
  });

  after(async () => {
    await node?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pushes over HTTPS with PUT and multipart POST, verifies TLS, and fails a refused delivery at once', async () => {
    const web = await startHttpsPartner(dir, (r) => (r.url.includes('forbidden') ? 403 : 201));
    try {
      const base = `https://127.0.0.1:${web.port}`;
      await ferry(env, ['partner', 'add', 'web-put', '--url', `${base}/upload/`, '--ca', web.cert, '--header', 'Authorization: Bearer t0k']);
      await ferry(env, ['partner', 'add', 'web-post', '--url', `${base}/form`, '--method', 'post', '--ca', web.cert]);
      await ferry(env, ['partner', 'add', 'web-untrusted', '--url', `${base}/upload/`]);
      await ferry(env, ['partner', 'add', 'web-forbidden', '--url', `${base}/forbidden/`, '--ca', web.cert]);
      await ferry(env, ['route', 'add', 'web', '--account', 'alice', '--path', 'web/*', '--push', 'web-put', '--push', 'web-post', '--rename', 'ferry-{name}']);
      await ferry(env, ['route', 'add', 'untrusted', '--account', 'alice', '--path', 'untrusted/*', '--push', 'web-untrusted']);
      await ferry(env, ['route', 'add', 'forbidden', '--account', 'alice', '--path', 'forbidden/*', '--push', 'web-forbidden']);

      const local = path.join(dir, 'invoice.xml');
      const sha = writeRandomFile(local, 300_000, 9);
      const r = await sftpBatch(alice, [
        'mkdir web',
        'mkdir untrusted',
        'mkdir forbidden',
        `put ${local} web/invoice.xml`,
        `put ${local} untrusted/invoice.xml`,
        `put ${local} forbidden/invoice.xml`,
      ]);
      assert.equal(r.code, 0, r.stderr);

      const byPath = async (p: string) => (await transfers(env, 'delivery')).find((t) => t.path === p);
      const done = await waitFor(
        'the HTTPS delivery',
        async () => {
          const t = await byPath('/web/invoice.xml');
          return t?.status === 'completed' && t;
        },
        30_000,
      ).catch(async (err) => {
        const t = await byPath('/web/invoice.xml');
        // Everything the node logged from the upload on: a stalled delivery once left no trace in the job lines alone.
        const log = fs
          .readFileSync(path.join(env.dataDir, 'node-output.log'), 'utf8')
          .split('\n')
          .filter((l) => l.includes('"job"') || l.includes('invoice.xml') || l.includes('"level":"warn"') || l.includes('"level":"error"'))
          .slice(-40);
        throw new Error(`${err.message}: ${JSON.stringify(t)}\n${log.join('\n')}`);
      });
      assert.equal(done.sha256, sha);
      const put = web.received.find((x) => x.method === 'PUT' && x.url.startsWith('/upload/'))!;
      assert.equal(put.url, '/upload/ferry-invoice.xml');
      assert.equal(put.headers.authorization, 'Bearer t0k');
      assert.match(String(put.headers['idempotency-key']), /^ferry-\d+$/);
      assert.equal(sha256(put.body), sha);
      const post = multipartFile(web.received.find((x) => x.method === 'POST')!);
      assert.equal(post.filename, 'ferry-invoice.xml');
      assert.equal(sha256(post.content), sha);

      const untrusted = await waitFor(
        'the untrusted delivery to fail',
        async () => {
          const t = await byPath('/untrusted/invoice.xml');
          return t?.status === 'failed' && t;
        },
        30_000,
      );
      assert.equal(untrusted.attempts, 3);
      assert.match(untrusted.error, /self-signed certificate/);

      const forbidden = await waitFor(
        'the refused delivery to fail',
        async () => {
          const t = await byPath('/forbidden/invoice.xml');
          return t?.status === 'failed' && t;
        },
        30_000,
      );
      assert.equal(forbidden.attempts, 1, 'a 403 is not retried');
      assert.match(forbidden.error, /answered 403: refused by test partner/);
      assert.equal(web.received.filter((x) => x.url.startsWith('/upload/')).length, 1, 'nothing reached the partner over an unverified connection');
    } finally {
      await web.close();
    }
  });

  it('pulls files from an SFTP partner on a schedule, deletes them there, routes them on and archives the source', async () => {
    const sshd = await startSshd(path.join(dir, 'pull-partner'), partnerKey + '.pub');
    try {
      const outgoing = path.join(sshd.filesDir, 'outgoing');
      fs.mkdirSync(outgoing);
      const a = writeRandomFile(path.join(outgoing, 'a.csv'), 70_000, 1);
      const b = writeRandomFile(path.join(outgoing, 'b.csv'), 80_000, 2);
      fs.writeFileSync(path.join(outgoing, 'keep.txt'), 'not matched');
      await ferry(env, ['partner', 'add', 'supplier', '--url', `sftp://root@127.0.0.1:${sshd.port}${outgoing}`, '--key', partnerKey]);
      await ferry(env, ['route', 'add', 'pulled-on', '--account', 'alice', '--path', 'pulled/*.csv', '--copy-to', 'bob/from-supplier', '--then', 'archive']);
      await ferry(env, [
        'schedule',
        'add',
        'fetch',
        '--cron',
        '* * * * * *',
        '--pull',
        'supplier',
        '--to',
        'alice/pulled',
        '--path',
        '*.csv',
        '--then',
        'delete',
      ]);

      const home = path.join(env.dataDir, 'files');
      const day = new Date().toISOString().slice(0, 10);
      await waitFor(
        'both files routed on and archived',
        () =>
          fs.existsSync(path.join(home, 'bob', 'from-supplier', 'a.csv')) &&
          fs.existsSync(path.join(home, 'bob', 'from-supplier', 'b.csv')) &&
          fs.existsSync(path.join(home, 'alice', 'archive', day, 'a.csv')) &&
          fs.existsSync(path.join(home, 'alice', 'archive', day, 'b.csv')),
        30_000,
      );
      await ferry(env, ['schedule', 'remove', 'fetch']);
      assert.deepEqual(fs.readdirSync(outgoing), ['keep.txt'], 'pulled files deleted at the partner, the others kept');
      assert.equal(sha256File(path.join(home, 'bob', 'from-supplier', 'a.csv')), a);
      assert.equal(sha256File(path.join(home, 'alice', 'archive', day, 'b.csv')), b);
      assert.deepEqual(fs.readdirSync(path.join(home, 'alice', 'pulled')), [], 'the source was archived');
      const pulls = (await transfers(env, 'upload')).filter((t) => t.protocol === 'sftp-pull');
      assert.deepEqual(pulls.map((t) => [t.path, t.sha256, t.client]).sort(), [
        ['/pulled/a.csv', a, 'partner:supplier'],
        ['/pulled/b.csv', b, 'partner:supplier'],
      ]);

      // Without --then delete, a file left at the partner is fetched once per version, not at every firing.
      await ferry(env, ['schedule', 'add', 'mirror', '--cron', '* * * * * *', '--pull', 'supplier', '--to', 'alice/mirror', '--path', '*.txt']);
      const mirrored = async () => (await transfers(env, 'upload')).filter((t) => t.path === '/mirror/keep.txt');
      await waitFor('the first fetch', async () => (await mirrored()).length === 1, 20_000);
      const lastSlot = async () => Date.parse(JSON.parse(await ferry(env, ['schedule', 'show', 'mirror', '--json'])).lastSlot);
      const firstSlot = await lastSlot();
      await waitFor('three more firings', async () => (await lastSlot()) >= firstSlot + 3000, 20_000);
      assert.equal((await mirrored()).length, 1, 'three more firings fetched nothing');
      fs.writeFileSync(path.join(outgoing, 'keep.txt'), 'a new version, longer than before');
      await waitFor('the new version fetched', async () => (await mirrored()).length === 2, 20_000);
      await ferry(env, ['schedule', 'remove', 'mirror']);
      assert.equal(fs.readFileSync(path.join(home, 'alice', 'mirror', 'keep.txt'), 'utf8'), 'a new version, longer than before');
    } finally {
      await sshd.stop();
    }
  });
});
