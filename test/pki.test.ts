import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { tempDir } from './harness/databases.js';
import { runFerry, type FerryEnv } from './harness/ferry.js';

/** Every entry under dir with its mode and a hash of its content, to prove a refusal changed nothing. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return; // an unreadable directory: its mode is recorded
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      const mode = (fs.lstatSync(p).mode & 0o777).toString(8);
      if (e.isDirectory()) {
        out.push(`${path.relative(dir, p)}/ ${mode}`);
        walk(p);
      } else {
        out.push(`${path.relative(dir, p)} ${mode} ${crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`);
      }
    }
  };
  walk(dir);
  return out.sort();
}

function certText(file: string): string {
  return execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

interface Material {
  ca: string;
  cert: string;
  key: string;
}

function material(dir: string, name: string): Material {
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

interface Handshake {
  /** The client's view: its error, or the server's CN and what the server sent. */
  client: { error?: string; peerCn?: string; received?: string };
  /** The server's view: the client's CN after a verified handshake, why it refused it, or its TLS error. */
  server: { peerCn?: string; refused?: string; error?: string };
}

/**
 * One mutual-TLS connection as an edge tunnel makes it: a server with the edge's
 * files that demands and verifies a client certificate, a client with a node's
 * files that verifies the server against the CA. The server greets every client it
 * accepted, so a client sees "hello" only if the server accepted its certificate.
 */
async function handshake(server: Material, client: Material, options: { servername?: string; rejectUnauthorized?: boolean } = {}): Promise<Handshake> {
  const result: Handshake = { client: {}, server: {} };
  const tlsServer = tls.createServer({
    cert: fs.readFileSync(server.cert),
    key: fs.readFileSync(server.key),
    ca: fs.readFileSync(server.ca),
    requestCert: true,
    // As an edge runs; false only to learn why a certificate is refused.
    rejectUnauthorized: options.rejectUnauthorized ?? true,
  });
  tlsServer.on('secureConnection', (socket) => {
    if (!socket.authorized) {
      result.server.refused = String(socket.authorizationError);
      socket.destroy();
      return;
    }
    result.server.peerCn = String(socket.getPeerCertificate().subject?.CN);
    socket.end('hello');
  });
  const serverError = new Promise<void>((resolve) =>
    tlsServer.on('tlsClientError', (err) => {
      result.server.error = (err as NodeJS.ErrnoException).code ?? err.message;
      resolve();
    }),
  );
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  const port = (tlsServer.address() as AddressInfo).port;
  try {
    await new Promise<void>((resolve) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: options.servername,
        cert: fs.readFileSync(client.cert),
        key: fs.readFileSync(client.key),
        ca: fs.readFileSync(client.ca),
      });
      let received = '';
      socket.on('secureConnect', () => (result.client.peerCn = String(socket.getPeerCertificate().subject?.CN)));
      socket.on('data', (d) => (received += d));
      socket.on('error', (err) => (result.client.error = (err as NodeJS.ErrnoException).code ?? err.message));
      socket.on('close', () => {
        if (received) result.client.received = received;
        resolve();
      });
    });
    if (!result.server.peerCn && !result.server.refused) await Promise.race([serverError, new Promise((r) => setTimeout(r, 2000))]);
  } finally {
    await new Promise((resolve) => tlsServer.close(resolve));
  }
  return result;
}

describe('ferry pki', () => {
  let dir: string;
  let env: FerryEnv;
  let pki: string;
  let other: string;

  before(() => {
    dir = tempDir();
    // pki reads no settings; the harness wants an environment all the same.
    env = { dataDir: path.join(dir, 'data'), databaseUrl: `sqlite:${path.join(dir, 'ferry.db')}` };
    pki = path.join(dir, 'pki');
    other = path.join(dir, 'other-pki');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('creates a CA: ca.crt and a ca.key only its owner reads', async () => {
    const init = await runFerry(['pki', 'init', pki], env);
    assert.equal(init.code, 0, init.stderr);
    assert.deepEqual(fs.readdirSync(pki).sort(), ['ca.crt', 'ca.key']);
    assert.equal(mode(path.join(pki, 'ca.key')), 0o600);
    assert.match(fs.readFileSync(path.join(pki, 'ca.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    const text = certText(path.join(pki, 'ca.crt'));
    assert.match(text, /Subject: CN ?= ?Ferry CA [0-9a-f]{16}\n/);
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE/);
    assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
    assert.match(text, /ASN1 OID: prime256v1/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    const ca = new crypto.X509Certificate(fs.readFileSync(path.join(pki, 'ca.crt')));
    const years = (Date.parse(ca.validTo) - Date.now()) / (365.25 * 24 * 3600 * 1000);
    assert.ok(years > 9.9 && years < 10.1, `CA valid for ${years} years`);
    assert.ok(ca.checkIssued(ca) && ca.verify(ca.publicKey));
    // A second, unrelated CA for the tests below.
    assert.equal((await runFerry(['pki', 'init', other], env)).code, 0);
  });

  it('issues an edge (server) and a node (client) certificate signed by the CA', async () => {
    const edge = await runFerry(
      ['pki', 'issue', 'edge', 'edge1', '--dir', pki, '--host', '127.0.0.1', '--host', 'localhost', '--host', 'edge1.example.net'],
      env,
    );
    assert.equal(edge.code, 0, edge.stderr);
    assert.match(edge.stdout, /edge certificate issued/);
    const node = await runFerry(['pki', 'issue', 'node', 'node-a', '--dir', pki, '--json'], env);
    assert.equal(node.code, 0, node.stderr);
    const issued = JSON.parse(node.stdout);
    assert.equal(issued.role, 'node');
    assert.equal(issued.certificate, path.join(pki, 'node-a.crt'));
    assert.equal(issued.key, path.join(pki, 'node-a.key'));
    assert.deepEqual(issued.hosts, ['node-a']);
    const days = (Date.parse(issued.notAfter) - Date.now()) / (24 * 3600 * 1000);
    assert.ok(days > 729 && days <= 730, `node certificate valid for ${days} days`);
    assert.deepEqual(fs.readdirSync(pki).sort(), ['ca.crt', 'ca.key', 'edge1.crt', 'edge1.key', 'node-a.crt', 'node-a.key']);
    assert.equal(mode(path.join(pki, 'edge1.key')), 0o600);
    assert.equal(mode(path.join(pki, 'node-a.key')), 0o600);

    const edgeText = certText(path.join(pki, 'edge1.crt'));
    assert.match(edgeText, /Subject: CN ?= ?edge1\n/);
    assert.match(edgeText, /Basic Constraints: critical\s+CA:FALSE/);
    assert.match(edgeText, /Key Usage: critical\s+Digital Signature\n/);
    assert.match(edgeText, /Extended Key Usage: ?\s+TLS Web Server Authentication\n/);
    assert.match(edgeText, /Subject Alternative Name: ?\s+IP Address:127\.0\.0\.1, DNS:localhost, DNS:edge1\.example\.net\n/);
    const nodeText = certText(path.join(pki, 'node-a.crt'));
    assert.match(nodeText, /Subject: CN ?= ?node-a\n/);
    assert.match(nodeText, /Extended Key Usage: ?\s+TLS Web Client Authentication\n/);
    assert.match(nodeText, /Subject Alternative Name: ?\s+DNS:node-a\n/);
    assert.doesNotMatch(nodeText, /127\.0\.0\.1|localhost/);
    // Signed by the CA, and fit for their purpose as OpenSSL judges it.
    const verify = (purpose: string, file: string) =>
      execFileSync('openssl', ['verify', '-purpose', purpose, '-CAfile', path.join(pki, 'ca.crt'), file], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    assert.match(verify('sslserver', path.join(pki, 'edge1.crt')), /: OK\n/);
    assert.match(verify('sslclient', path.join(pki, 'node-a.crt')), /: OK\n/);
    assert.throws(() => verify('sslserver', path.join(pki, 'node-a.crt')));
    assert.throws(() => verify('sslclient', path.join(pki, 'edge1.crt')));
    // An edge without --host is named by its NAME; validity from --days.
    const plain = await runFerry(['pki', 'issue', 'edge', 'edge2.example.net', '--dir', pki, '--days', '30'], env);
    assert.equal(plain.code, 0, plain.stderr);
    const plainText = certText(path.join(pki, 'edge2.example.net.crt'));
    assert.match(plainText, /Subject Alternative Name: ?\s+DNS:edge2\.example\.net\n/);
    const plainCert = new crypto.X509Certificate(fs.readFileSync(path.join(pki, 'edge2.example.net.crt')));
    const plainDays = (Date.parse(plainCert.validTo) - Date.now()) / (24 * 3600 * 1000);
    assert.ok(plainDays > 29 && plainDays <= 30, `valid for ${plainDays} days`);
  });

  it('the certificates carry a mutual-TLS connection, each side seeing the other by name', async () => {
    const edge = material(pki, 'edge1');
    const node = material(pki, 'node-a');
    // By IP address (the 127.0.0.1 SAN), and by host name (the localhost SAN).
    for (const servername of [undefined, 'localhost']) {
      const r = await handshake(edge, node, { servername });
      assert.deepEqual(r.client, { peerCn: 'edge1', received: 'hello' }, `servername ${servername}`);
      assert.deepEqual(r.server, { peerCn: 'node-a' });
    }
    // A name the edge's certificate does not carry.
    const wrongName = await handshake(edge, node, { servername: 'elsewhere.example.net' });
    assert.equal(wrongName.client.error, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.equal(wrongName.server.peerCn, undefined);
  });

  it('refuses a client certificate of another CA, and certificates used in the wrong role', async () => {
    assert.equal((await runFerry(['pki', 'issue', 'node', 'intruder', '--dir', other], env)).code, 0);
    const edge = material(pki, 'edge1');
    const intruder = { ...material(other, 'intruder'), ca: path.join(pki, 'ca.crt') };
    const foreign = await handshake(edge, intruder);
    assert.equal(foreign.server.peerCn, undefined, 'the edge accepts no connection');
    assert.equal(foreign.client.received, undefined, 'the client gets nothing through');
    // Why: the edge cannot chain the intruder's certificate to its CA.
    const why = await handshake(edge, intruder, { rejectUnauthorized: false });
    assert.match(String(why.server.refused), /^UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT(_LOCALLY)?)$/);

    // A node's certificate cannot serve as an edge (no serverAuth), nor an edge's as a node (no clientAuth).
    const asServer = await handshake(material(pki, 'node-a'), material(pki, 'edge1'), { servername: 'node-a' });
    assert.equal(asServer.client.error, 'INVALID_PURPOSE');
    assert.equal(asServer.client.received, undefined);
    const asClient = await handshake(material(pki, 'edge1'), material(pki, 'edge2.example.net'));
    assert.equal(asClient.server.peerCn, undefined);
    assert.equal(asClient.client.received, undefined);
    const asClientWhy = await handshake(material(pki, 'edge1'), material(pki, 'edge2.example.net'), { rejectUnauthorized: false });
    assert.equal(asClientWhy.server.refused, 'INVALID_PURPOSE');
  });

  it('refuses bad input with a clear message and exit code 1, changing nothing', async () => {
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'not a directory');
    const keyOnly = path.join(dir, 'key-only');
    fs.mkdirSync(keyOnly);
    fs.writeFileSync(path.join(keyOnly, 'ca.key'), 'an old key that must survive');
    const broken = path.join(dir, 'broken');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'ca.crt'), 'garbage');
    fs.copyFileSync(path.join(pki, 'ca.key'), path.join(broken, 'ca.key'));
    const mismatched = path.join(dir, 'mismatched');
    fs.mkdirSync(mismatched);
    fs.copyFileSync(path.join(pki, 'ca.crt'), path.join(mismatched, 'ca.crt'));
    fs.copyFileSync(path.join(other, 'ca.key'), path.join(mismatched, 'ca.key'));
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);

    const cases: Array<[string[], RegExp]> = [
      [['pki', 'init', pki], /already holds a CA \(ca\.crt, ca\.key\); not overwriting it/],
      [['pki', 'init', keyOnly], /already holds a CA \(ca\.key\)/],
      [['pki', 'init', file], /is not a directory/],
      [['pki', 'issue', 'server', 'x', '--dir', pki], /the role must be node or edge \(got "server"\)/],
      [['pki', 'issue', 'node', 'a/b', '--dir', pki], /invalid name "a\/b"/],
      [['pki', 'issue', 'node', '../evil', '--dir', pki], /invalid name "\.\.\/evil"/],
      [['pki', 'issue', 'node', 'two words', '--dir', pki], /invalid name "two words"/],
      [['pki', 'issue', 'node', 'ca', '--dir', pki], /"ca" is the name of the CA's own files/],
      [['pki', 'issue', 'edge', 'e3', '--dir', pki, '--host', 'bad host'], /invalid --host "bad host"/],
      [['pki', 'issue', 'edge', 'e3', '--dir', pki, '--days', 'soon'], /--days must be a whole number/],
      [['pki', 'issue', 'edge', 'e3', '--dir', pki, '--days', '0'], /--days must be a whole number of days from 1/],
      [['pki', 'issue', 'edge', 'e3', '--dir', pki, '--days', '4000'], /would outlast the CA/],
      [['pki', 'issue', 'node', 'node-a', '--dir', pki], /node-a\.crt already exists; not overwriting it/],
      [['pki', 'issue', 'edge', 'node-a', '--dir', pki], /node-a\.crt already exists/],
      [['pki', 'issue', 'node', 'x', '--dir', empty], /holds no CA \(ca\.crt and ca\.key missing\); run ferry pki init/],
      [['pki', 'issue', 'node', 'x', '--dir', keyOnly], /holds no CA \(ca\.crt missing\)/],
      [['pki', 'issue', 'node', 'x', '--dir', path.join(dir, 'missing')], /no directory .*missing/],
      [['pki', 'issue', 'node', 'x', '--dir', file], /is not a directory/],
      [['pki', 'issue', 'node', 'x', '--dir', broken], /ca\.crt is not a PEM certificate/],
      [['pki', 'issue', 'node', 'x', '--dir', mismatched], /ca\.key is not the key of .*ca\.crt/],
    ];
    // An unreadable directory (root reads everything, so only when not root).
    const locked = path.join(dir, 'locked');
    if (process.getuid?.() !== 0) {
      fs.mkdirSync(locked);
      fs.copyFileSync(path.join(pki, 'ca.crt'), path.join(locked, 'ca.crt'));
      fs.chmodSync(locked, 0o000);
      cases.push([['pki', 'issue', 'node', 'x', '--dir', locked], /cannot use .*locked: EACCES/]);
    }
    const before = snapshot(dir);
    for (const [args, message] of cases) {
      const result = await runFerry(args, env);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /^ferry: /);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '');
      assert.deepEqual(snapshot(dir), before, args.join(' '));
    }
    if (fs.existsSync(locked)) fs.chmodSync(locked, 0o700);
    assert.equal(fs.readFileSync(path.join(keyOnly, 'ca.key'), 'utf8'), 'an old key that must survive');
    // A usage error (no --dir) is commander's: exit code 2.
    assert.equal((await runFerry(['pki', 'issue', 'node', 'x'], env)).code, 2);
  });
});
