import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { parsePublicKey } from '../src/accounts/public-key.js';
import type { Delivery, StepCheckpoint } from '../src/routing/connectors/connector.js';
import { PartnerSftp } from '../src/routing/connectors/sftp-client.js';
import { pushOverSftp } from '../src/routing/connectors/sftp-push.js';
import type { SftpPartner } from '../src/routing/partners.js';
import { tempDir } from './harness/databases.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { sshKeygen } from './harness/openssh.js';
import { startSshd, type SshdServer } from './harness/sshd.js';

const JOB = 77;

/** What a push finds at the partner when an earlier attempt died, and what it must do about it. */
describe('an SFTP push resuming what an earlier attempt left at the partner (OpenSSH sshd)', () => {
  let dir: string;
  let sshd: SshdServer;
  let partner: SftpPartner;
  let source: string;
  let sha: string;
  const size = 5 * 1024 * 1024 + 123;

  before(async () => {
    dir = tempDir();
    const key = sshKeygen(dir, 'partner_key');
    sshd = await startSshd(path.join(dir, 'partner'), key + '.pub');
    partner = {
      protocol: 'sftp',
      host: '127.0.0.1',
      port: sshd.port,
      username: 'root',
      dir: sshd.filesDir,
      privateKey: fs.readFileSync(key, 'utf8'),
      hostKey: parsePublicKey(fs.readFileSync(sshd.hostKeyPub, 'utf8')).publicKey,
    };
    source = path.join(dir, 'data.bin');
    sha = writeRandomFile(source, size, 5);
  });

  after(async () => {
    await sshd?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function push(checkpoint?: StepCheckpoint) {
    const saved: StepCheckpoint[] = [];
    const delivery: Delivery = {
      source: { absPath: source, name: 'data.bin', size },
      targetName: 'data.bin',
      jobId: JOB,
      checkpoint,
      saveCheckpoint: async (c) => void saved.push(c),
      signal: new AbortController().signal,
      log: pino({ level: 'silent' }),
    };
    const remote = await PartnerSftp.connect(partner, async () => {}, delivery.signal);
    try {
      return { result: await pushOverSftp(partner, delivery, remote), saved };
    } finally {
      remote.close();
    }
  }

  const temp = () => path.join(sshd.filesDir, `.data.bin.${JOB}.ferrypart`);
  const final = () => path.join(sshd.filesDir, 'data.bin');

  it('continues a partial temporary file whose bytes match ours from where it stopped', async () => {
    fs.writeFileSync(temp(), fs.readFileSync(source).subarray(0, 2 * 1024 * 1024));
    const { result, saved } = await push();
    assert.equal(result.resumedAt, 2 * 1024 * 1024);
    assert.equal(result.bytes, size - 2 * 1024 * 1024);
    assert.equal(result.sha256, sha);
    assert.equal(sha256File(final()), sha);
    assert.ok(!fs.existsSync(temp()));
    assert.deepEqual(
      saved.map((c) => c.phase),
      ['renaming'],
      'the rename is announced before it happens',
    );
  });

  it('sends everything again when the partial file differs from ours (checked by the partner’s sha256sum)', async () => {
    fs.rmSync(final());
    const wrong = fs.readFileSync(source).subarray(0, 1024 * 1024);
    wrong[1000] ^= 0xff;
    fs.writeFileSync(temp(), wrong);
    const { result } = await push();
    assert.equal(result.resumedAt, 0);
    assert.equal(result.bytes, size);
    assert.equal(sha256File(final()), sha);
  });

  it('sends nothing when the last attempt renamed the file into place but died before recording it', async () => {
    const before = fs.statSync(final());
    const { result } = await push({ phase: 'renaming' });
    assert.equal(result.bytes, 0);
    assert.equal(result.sha256, sha);
    assert.equal(fs.statSync(final()).mtimeMs, before.mtimeMs, 'the delivered file was not written again');
    assert.deepEqual(fs.readdirSync(sshd.filesDir), ['data.bin']);
  });

  it('refuses a partner whose host key is not the pinned one, for good', async () => {
    const other = parsePublicKey(fs.readFileSync(sshKeygen(dir, 'impostor') + '.pub', 'utf8')).publicKey;
    await assert.rejects(
      PartnerSftp.connect({ ...partner, hostKey: other }, async () => {}, new AbortController().signal),
      (err: Error) => err.constructor.name === 'PermanentJobError' && /host key of 127\.0\.0\.1:\d+ changed: pinned SHA256:/.test(err.message),
    );
  });
});
