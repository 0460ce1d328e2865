import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Delivery } from '../src/routing/connectors/connector.js';
import { pushOverHttps, type HttpsPushOptions } from '../src/routing/connectors/https-push.js';
import type { HttpsPartner } from '../src/routing/partners.js';
import { tempDir } from './harness/databases.js';
import { writeRandomFile } from './harness/files.js';
import { partnerCertificate } from './harness/tls.js';

/** The push, or a failure naming what it was waiting for if it neither answers nor fails in time. */
async function pushWithin(ms: number, what: string, partner: HttpsPartner, delivery: Delivery, options?: HttpsPushOptions) {
  let timer: NodeJS.Timeout | undefined;
  const stall = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: neither answered nor failed within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([pushOverHttps(partner, delivery, options), stall]);
  } finally {
    clearTimeout(timer);
  }
}

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

describe('HTTPS push', () => {
  let dir: string;
  let key: Buffer;
  let cert: string;
  let source: string;
  let sha: string;
  const size = 300_000;
  const log = pino({ level: 'silent' });

  const delivery = (jobId: number, signal = new AbortController().signal, file = source, bytes = size): Delivery => ({
    source: { absPath: file, name: path.basename(file), size: bytes },
    targetName: 'invoice.xml',
    jobId,
    checkpoint: undefined,
    saveCheckpoint: async () => {},
    signal,
    log,
  });
  const partnerAt = (port: number, method: 'PUT' | 'POST', at = '/in'): HttpsPartner => ({
    protocol: 'https',
    url: `https://127.0.0.1:${port}${at}`,
    method,
    headers: {},
    ca: cert,
  });

  /** Listens on 127.0.0.1; close() also ends every connection it still has (a stalled one never ends by itself). */
  async function listen(server: tls.Server | https.Server): Promise<{ port: number; close(): Promise<void> }> {
    const sockets = new Set<Socket>();
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: (server.address() as AddressInfo).port,
      close: () =>
        new Promise((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        }),
    };
  }

  before(() => {
    dir = tempDir();
    ({ key, cert } = partnerCertificate(dir));
    source = path.join(dir, 'invoice.xml');
    sha = writeRandomFile(source, size, 9);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs a PUT and then a POST to the same partner back to back, again and again, without a stall', async () => {
    // What a two-step route does: the second request starts as soon as the first is answered.
    // On a kept-alive connection Node could free it twice (its response ended before its
    // request's 'finish'), taking it from the next request, which then waited for 'drain' forever.
    const bodies: Buffer[] = [];
    let connections = 0;
    const server = https.createServer({ key, cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks));
        res.statusCode = 201;
        res.end('ok');
      });
    });
    server.on('secureConnection', () => connections++);
    const web = await listen(server);
    try {
      const rounds = 25;
      for (let i = 0; i < rounds; i++) {
        for (const method of ['PUT', 'POST'] as const) {
          const done = await pushWithin(10_000, `round ${i}, ${method}`, partnerAt(web.port, method), delivery(i));
          assert.equal(done.sha256, sha);
          assert.equal(done.bytes, size);
        }
      }
      assert.equal(bodies.length, 2 * rounds);
      assert.equal(connections, 2 * rounds, 'one connection per delivery: none is reused');
      const digest = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
      assert.equal(digest(bodies[0]!), sha, 'the PUT carried the file');
      assert.ok(bodies[1]!.includes(fs.readFileSync(source)), 'the POST carried the file in its form');
    } finally {
      await web.close();
    }
  });

  it('fails a delivery the partner stops reading, with a clear error, and closes the file', async () => {
    // A partner that takes the connection and then reads nothing: the request backs up and
    // 'drain' never comes. Big enough to fill the socket buffers on both sides.
    const big = path.join(dir, 'big.bin');
    const bigSize = 32 * 1024 * 1024;
    writeRandomFile(big, bigSize, 3);
    const server = tls.createServer({ key, cert }, (socket) => socket.pause());
    const stalled = await listen(server);
    const fdsBefore = openFds();
    try {
      const started = Date.now();
      await assert.rejects(
        pushWithin(10_000, 'a stalled partner', partnerAt(stalled.port, 'PUT'), delivery(1, undefined, big, bigSize), { idleTimeoutMs: 500 }),
        /^Error: PUT https:\/\/127\.0\.0\.1:\d+\/in\/invoice\.xml: (no answer from 127\.0\.0\.1:\d+ within 0\.5 s|no progress on the connection to 127\.0\.0\.1:\d+ for 1\.5 s)$/,
      );
      assert.ok(Date.now() - started < 5_000, 'failed soon after the idle timeout');
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(openFds() <= fdsBefore, 'the source file was closed');
    } finally {
      await stalled.close();
      fs.rmSync(big, { force: true });
    }
  });

  it('fails a delivery whose partner never answers, or closes the connection without an answer', async () => {
    const silent = await listen(https.createServer({ key, cert }, (req) => req.resume()));
    const closing = await listen(https.createServer({ key, cert }, (req) => req.on('end', () => req.socket.destroy()).resume()));
    try {
      await assert.rejects(
        pushWithin(10_000, 'a silent partner', partnerAt(silent.port, 'POST'), delivery(2), { idleTimeoutMs: 500 }),
        /POST https:\/\/127\.0\.0\.1:\d+\/in: no answer from 127\.0\.0\.1:\d+ within 0\.5 s/,
      );
      await assert.rejects(
        pushWithin(10_000, 'a partner that hangs up', partnerAt(closing.port, 'PUT'), delivery(3)),
        /PUT https:\/\/127\.0\.0\.1:\d+\/in\/invoice\.xml: .*(socket hang up|closed before an answer)/,
      );
    } finally {
      await silent.close();
      await closing.close();
    }
  });

  it('stops at once when the job is aborted (its lease lost), even while waiting for the partner', async () => {
    const silent = await listen(https.createServer({ key, cert }, (req) => req.resume()));
    try {
      const abort = new AbortController();
      setTimeout(() => abort.abort(new Error('lease on the job lost')), 300);
      const started = Date.now();
      await assert.rejects(pushWithin(10_000, 'an aborted push', partnerAt(silent.port, 'PUT'), delivery(4, abort.signal)), /lease on the job lost/);
      assert.ok(Date.now() - started < 3_000);
    } finally {
      await silent.close();
    }
  });
});
