import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../src/db/connect.js';
import { DATABASE_KINDS, freshDatabaseUrl, tempDir, type DatabaseKind } from './harness/databases.js';
import { ferryOk, runFerry, startNode, type FerryEnv } from './harness/ferry.js';
import { sftpBatch, sshKeygen } from './harness/openssh.js';

const XSD = fileURLToPath(new URL('../../docs/ferry-snapshot.xsd', import.meta.url));
const TABLES = ['accounts', 'account_keys', 'partners', 'routes', 'schedules', 'monitors', 'host_keys', 'admin_users'] as const;

/** Every row of every configuration table: what "nothing changed" is checked against. */
async function dump(env: FerryEnv): Promise<Record<string, unknown[]>> {
  const handle = openDatabase(env.databaseUrl);
  try {
    const out: Record<string, unknown[]> = {};
    for (const table of TABLES) {
      const rows = await handle.db.selectFrom(table).selectAll().execute();
      out[table] = rows.sort((a: any, b: any) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    }
    return out;
  } finally {
    await handle.close();
  }
}

/** The SSH host key a node presents, as ssh-keyscan sees it. */
function hostKeyOf(port: number): string {
  const out = execFileSync('ssh-keyscan', ['-p', String(port), '-t', 'ed25519', '127.0.0.1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.trim().split(/\s+/).slice(1).join(' ');
}

for (const kind of DATABASE_KINDS) {
  describe(`ferry export / import (${kind})`, () => {
    let dir: string;
    let source: FerryEnv;
    let sourceHostKey: string;
    let bankKey: string;
    const fresh = async (name: string): Promise<FerryEnv> => ({
      dataDir: path.join(dir, name),
      databaseUrl: await freshDatabaseUrl(kind as DatabaseKind, path.join(dir, name)),
    });
    const write = (name: string, text: string) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      return file;
    };

    before(async () => {
      dir = tempDir('ferry-snapshot-');
      source = await fresh('source');
      // The source's host keys are made at its node's first start.
      const node = await startNode(source);
      sourceHostKey = hostKeyOf(node.sftpPort);
      await node.stop();

      const alice = sshKeygen(dir, 'alice');
      const extra = sshKeygen(dir, 'extra');
      bankKey = sshKeygen(dir, 'bank');
      await ferryOk(source, ['pki', 'init', path.join(dir, 'pki')]);
      await ferryOk(source, ['account', 'add', 'alice', '--password-stdin', '--key', alice + '.pub', '--key', extra + '.pub'], 'alice secret 1\n');
      await ferryOk(source, [
        'account',
        'add',
        'bob',
        '--key',
        alice + '.pub',
        '--home',
        'partners/bob',
        '--allow-from',
        '192.0.2.0/24',
        '--allow-from',
        '2001:db8::/32',
      ]);
      await ferryOk(source, ['admin', 'add', 'ops', '--role', 'operator', '--password-stdin'], 'ops password 1\n');
      await ferryOk(source, ['account', 'disable', 'bob']);
      await ferryOk(source, ['partner', 'add', 'bank', '--url', 'sftp://ferry@bank.example:2222/in box', '--key', bankKey, '--host-key', alice + '.pub']);
      await ferryOk(source, ['partner', 'add', 'legacy', '--url', 'sftp://ops@10.0.0.7/drop', '--password-stdin'], 'legacy pass\n');
      await ferryOk(source, [
        'partner',
        'add',
        'web',
        '--url',
        'https://h.example/up/?sig=abc',
        '--header',
        'Authorization: Bearer t0ken',
        '--header',
        'X-Env: prod',
        '--ca',
        path.join(dir, 'pki', 'ca.crt'),
        '--method',
        'post',
      ]);
      await ferryOk(source, [
        'route',
        'add',
        'to-bank',
        '--account',
        'alice',
        '--path',
        'out/*.csv',
        '--copy-to',
        'bob/in',
        '--push',
        'bank',
        '--then',
        'archive',
        '--rename',
        '{base}-{date}{ext}',
      ]);
      await ferryOk(source, ['route', 'add', 'drops', '--account', 'alice', '--on', 'monitor', '--push', 'web']);
      await ferryOk(source, [
        'schedule',
        'add',
        'nightly',
        '--cron',
        '0 2 * * *',
        '--tz',
        'Europe/Zurich',
        '--pull',
        'legacy',
        '--to',
        'alice/in',
        '--then',
        'delete',
      ]);
      await ferryOk(source, [
        'schedule',
        'add',
        'hourly',
        '--cron',
        '0 * * * *',
        '--push',
        'bank',
        '--from',
        'alice/out',
        '--path',
        '*.csv',
        '--catch-up',
        'none',
      ]);
      await ferryOk(source, ['monitor', 'add', 'drop', '--account', 'alice', '--dir', '/drop', '--path', '*.dat', '--stable', '1500ms']);
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('round-trips: export, import into an empty database, export gives the same document (XML and JSON)', async () => {
      for (const format of ['xml', 'json']) {
        const exported = await ferryOk(source, ['export', '--format', format, '--with-secrets', '--with-host-keys']);
        const file = write(`full.${format}`, exported);
        const target = await fresh(`round-trip-${format}`);
        const report = JSON.parse(await ferryOk(target, ['import', file, '--json']));
        assert.equal(report.created, 13, JSON.stringify(report)); // 2 accounts, 3 partners, 2 routes, 2 schedules, 1 monitor, 1 admin user, 2 host keys
        assert.equal(await ferryOk(target, ['export', '--format', format, '--with-secrets', '--with-host-keys']), exported);
      }
      const xml = fs.readFileSync(path.join(dir, 'full.xml'), 'utf8');
      assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<ferry-snapshot version="1">\n/);
      assert.match(xml, /<account name="bob" home="partners\/bob" enabled="false">/);
      assert.match(
        xml,
        /<route name="to-bank" account="alice" path="out\/\*\.csv" on="upload" rename="\{base\}-\{date\}\{ext\}" then="archive">\n\s+<copy account="bob" dir="\/in"\/>\n\s+<push partner="bank"\/>/,
      );
      // Sorted by name, whatever order they were made in.
      assert.ok(xml.indexOf('name="drops"') < xml.indexOf('name="to-bank"'));
    });

    it('an imported account logs in with its original password and key; nodes keep the host key', async () => {
      const target = await fresh('login');
      await ferryOk(target, ['import', path.join(dir, 'full.xml')]);
      const node = await startNode(target);
      try {
        const byPassword = await sftpBatch({ port: node.sftpPort, user: 'alice', password: 'alice secret 1', dir }, ['pwd']);
        assert.equal(byPassword.code, 0, byPassword.stderr);
        const wrong = await sftpBatch({ port: node.sftpPort, user: 'alice', password: 'not it', dir }, ['pwd']);
        assert.notEqual(wrong.code, 0);
        const byKey = await sftpBatch({ port: node.sftpPort, user: 'alice', keyFile: path.join(dir, 'extra'), dir }, ['pwd']);
        assert.equal(byKey.code, 0, byKey.stderr);
        assert.equal(hostKeyOf(node.sftpPort), sourceHostKey);
      } finally {
        await node.stop();
      }
    });

    it('is idempotent: the same snapshot again changes no row', async () => {
      const target = await fresh('idempotent');
      const file = path.join(dir, 'full.json');
      await ferryOk(target, ['import', file]);
      const before = await dump(target);
      const again = JSON.parse(await ferryOk(target, ['import', file, '--json']));
      assert.deepEqual(again, { dryRun: false, created: 0, updated: 0, removed: 0, unchanged: 13, changes: [] });
      assert.deepEqual(await dump(target), before);
      assert.equal(await ferryOk(target, ['import', file]), 'import: 0 created, 0 updated, 0 removed, 13 unchanged\n');
    });

    it('updates changed objects in place; --dry-run only reports', async () => {
      const target = await fresh('update');
      const original = fs.readFileSync(path.join(dir, 'full.xml'), 'utf8');
      await ferryOk(target, ['import', path.join(dir, 'full.xml')]);
      const routeBefore = JSON.parse(await ferryOk(target, ['route', 'show', 'to-bank', '--json']));
      const extraKey = fs.readFileSync(path.join(dir, 'extra.pub'), 'utf8').trim();
      const newKey = fs.readFileSync(sshKeygen(dir, 'new') + '.pub', 'utf8').trim();
      const changed = original
        .replace('path="out/*.csv"', 'path="out/**/*.txt"')
        .replace('<account name="alice" home="alice">', '<account name="alice" home="alice" enabled="false">')
        .replace(`<key>${extraKey}</key>`, `<key>${newKey}</key>`);
      assert.notEqual(changed, original);
      const file = write('changed.xml', changed);

      const before = await dump(target);
      const dry = JSON.parse(await ferryOk(target, ['import', file, '--dry-run', '--json']));
      assert.equal(dry.dryRun, true);
      assert.deepEqual(dry.changes, [
        { action: 'update', kind: 'account', name: 'alice', fields: ['enabled', 'keys'] },
        { action: 'update', kind: 'route', name: 'to-bank', fields: ['path'] },
      ]);
      assert.deepEqual(await dump(target), before);

      assert.equal(
        await ferryOk(target, ['import', file]),
        'updated account alice (enabled, keys)\nupdated route to-bank (path)\nimport: 0 created, 2 updated, 0 removed, 11 unchanged\n',
      );
      const route = JSON.parse(await ferryOk(target, ['route', 'show', 'to-bank', '--json']));
      assert.equal(route.path, 'out/**/*.txt');
      assert.equal(route.created, routeBefore.created);
      const alice = JSON.parse(await ferryOk(target, ['account', 'show', 'alice', '--json']));
      assert.equal(alice.state, 'disabled');
      const fingerprints = alice.keys.map((k: any) => k.comment).sort();
      assert.deepEqual(fingerprints, ['alice@test', 'new@test']);
      assert.match(await ferryOk(target, ['import', file]), /import: 0 created, 0 updated, 0 removed, 13 unchanged/);
    });

    it('leaves objects the snapshot lacks alone, and removes them with --prune', async () => {
      const target = await fresh('prune');
      await ferryOk(target, ['import', path.join(dir, 'full.xml')]);
      const fewer = fs
        .readFileSync(path.join(dir, 'full.xml'), 'utf8')
        .replace(/ *<monitor name="drop"[^\n]*\n/, '')
        .replace(/ *<route name="drops"[^]*?<\/route>\n/, '');
      const file = write('fewer.xml', fewer);
      assert.match(await ferryOk(target, ['import', file]), /import: 0 created, 0 updated, 0 removed, 11 unchanged/);
      assert.equal(JSON.parse(await ferryOk(target, ['monitor', 'list', '--json'])).length, 1);
      assert.equal(
        await ferryOk(target, ['import', file, '--prune']),
        'removed monitor drop\nremoved route drops\nimport: 0 created, 0 updated, 2 removed, 11 unchanged\n',
      );
      assert.deepEqual(JSON.parse(await ferryOk(target, ['monitor', 'list', '--json'])), []);
      // --prune refuses a snapshot that refers to something it would remove.
      const dangling = write('dangling.xml', fewer.replace(/ *<account name="bob"[^]*?<\/account>\n/, ''));
      const refused = await runFerry(['import', dangling, '--prune'], target);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /line \d+, <route name="to-bank">: account "bob" is not in the snapshot, and --prune would remove it/);
    });

    it('keeps partner credentials out of an export unless --with-secrets, and keeps them on import', async () => {
      const plain = await ferryOk(source, ['export']);
      const bankPem = fs.readFileSync(bankKey, 'utf8');
      for (const secret of ['OPENSSH PRIVATE KEY', 'legacy pass', 't0ken', 'prod', 'sig=abc']) assert.ok(!plain.includes(secret), secret);
      assert.match(plain, /<private-key omitted="true"\/>/);
      assert.match(plain, /<header name="Authorization" omitted="true"\/>/);
      assert.ok(!plain.includes('ssh-host-key'));
      assert.ok((await ferryOk(source, ['export', '--with-secrets'])).includes(bankPem.trim()));

      const file = write('plain.xml', plain);
      const before = await dump(source);
      assert.match(await ferryOk(source, ['import', file]), /0 created, 0 updated, 0 removed, 11 unchanged/);
      assert.deepEqual(await dump(source), before);

      // An empty database has no credentials to keep: refused, and the accounts before the partners are not created either.
      const empty = await fresh('no-secrets');
      const refused = await runFerry(['import', file], empty);
      assert.equal(refused.code, 1);
      const line = plain.split('\n').findIndex((l) => l.includes('<private-key omitted="true"/>')) + 1;
      assert.equal(
        refused.stderr,
        `ferry: ${file}: line ${line}, <private-key> in <sftp-partner name="bank">: the snapshot leaves out the private key of partner "bank" and the database has none to keep: export with --with-secrets, or write it into the file\n`,
      );
      assert.deepEqual(JSON.parse(await ferryOk(empty, ['account', 'list', '--json'])), []);
    });

    it('refuses invalid files with the element and its line, changing nothing', async () => {
      const target = await fresh('invalid');
      await ferryOk(target, ['import', path.join(dir, 'full.xml')]);
      const before = await dump(target);
      const snapshot = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<ferry-snapshot version="1">\n${body}</ferry-snapshot>\n`;
      const cases: Array<[string, string, RegExp]> = [
        ['not-xml.xml', 'accounts: [alice]\n', /not a snapshot: expected XML .* or JSON/],
        [
          'broken.xml',
          snapshot('  <accounts>\n    <account name="x" home="x">\n  </accounts>\n'),
          /line 5, column \d+: not well-formed XML: Expected closing tag 'account'/,
        ],
        [
          'root.xml',
          '<?xml version="1.0"?>\n<configuration version="1"/>\n',
          /line 2, <configuration>: not a snapshot: the root element must be <ferry-snapshot>/,
        ],
        ['version.xml', '<ferry-snapshot version="7"/>\n', /line 1, <ferry-snapshot>: unsupported snapshot version "7"/],
        ['unknown-element.xml', snapshot('  <routes>\n    <rule name="x"/>\n  </routes>\n'), /line 4: unknown element <rule> in <routes>: expected <route>/],
        [
          'unknown-attribute.xml',
          snapshot('  <monitors>\n    <monitor name="m" account="alice" colour="red"/>\n  </monitors>\n'),
          /line 4, <monitor name="m">: unknown attribute colour/,
        ],
        [
          'missing-attribute.xml',
          snapshot('  <routes>\n    <route name="r">\n      <push partner="bank"/>\n    </route>\n  </routes>\n'),
          /line 4, <route name="r">: account is missing/,
        ],
        [
          'bad-cron.xml',
          snapshot('  <schedules>\n    <schedule name="s" cron="61 * * * *">\n      <push partner="bank" account="alice"/>\n    </schedule>\n  </schedules>\n'),
          /line 4, <schedule name="s">: invalid schedule "61 \* \* \* \*"/,
        ],
        [
          'bad-glob.xml',
          snapshot('  <monitors>\n    <monitor name="m" account="alice" path=""/>\n  </monitors>\n'),
          /line 4, <monitor name="m">: invalid path glob ""/,
        ],
        [
          'bad-enum.xml',
          snapshot('  <routes>\n    <route name="r" account="alice" on="download">\n      <push partner="bank"/>\n    </route>\n  </routes>\n'),
          /line 4, <route name="r">: on must be "upload" or "monitor" \(got "download"\)/,
        ],
        [
          'bad-key.xml',
          snapshot('  <accounts>\n    <account name="z" home="z">\n      <key>ssh-ed25519 garbage</key>\n    </account>\n  </accounts>\n'),
          /line 5, <key> in <account name="z">: not an SSH public key/,
        ],
        [
          'duplicate.xml',
          snapshot('  <monitors>\n    <monitor name="m" account="alice"/>\n    <monitor name="m" account="alice"/>\n  </monitors>\n'),
          /line 5, <monitor name="m">: monitor "m" is given twice \(first at line 4, <monitor name="m">\)/,
        ],
        // Valid on its own, refused against the database: the account created before it is rolled back.
        [
          'unknown-partner.xml',
          snapshot(
            '  <accounts>\n    <account name="new" home="new"><password-hash>scrypt$32768$8$1$AAAA$AAAA</password-hash></account>\n  </accounts>\n  <routes>\n    <route name="r" account="new">\n      <push partner="nobody"/>\n    </route>\n  </routes>\n',
          ),
          /line 7, <route name="r">: no partner named "nobody"/,
        ],
        [
          'bad-json.json',
          '{"format": "ferry-snapshot", "version": 1, "routes": [{"name": "r", "account": "alice", "steps": [{"type": "fly"}]}]}',
          /routes\[0\] \("r"\)\.steps\[0\].*type must be "push" or "copy"/,
        ],
      ];
      for (const [name, text, message] of cases) {
        const result = await runFerry(['import', write(name, text)], target);
        assert.equal(result.code, 1, `${name}: ${result.stdout}`);
        assert.match(result.stderr, new RegExp(`^ferry: ${path.join(dir, name).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `), name);
        assert.match(result.stderr, message, name);
      }
      assert.deepEqual(await dump(target), before);
      const usage = await runFerry(['export', '--format', 'yaml'], target);
      assert.equal(usage.code, 1);
      assert.match(usage.stderr, /--format must be xml or json/);
    });

    it('writes XML that the published XSD validates', { skip: spawnSync('xmllint', ['--version']).error ? 'xmllint is not installed' : false }, async () => {
      const xsd = (file: string) => spawnSync('xmllint', ['--noout', '--schema', XSD, file], { encoding: 'utf8' });
      for (const flags of [[], ['--with-secrets', '--with-host-keys']]) {
        const file = write(`xsd-${flags.length}.xml`, await ferryOk(source, ['export', ...flags]));
        const result = xsd(file);
        assert.equal(result.status, 0, result.stderr);
      }
      const wrong = xsd(write('xsd-wrong.xml', fs.readFileSync(path.join(dir, 'xsd-0.xml'), 'utf8').replace('on="upload"', 'on="download"')));
      assert.notEqual(wrong.status, 0);
    });
  });
}
