/**
 * The web console in a real browser (Debian's Chromium driven by playwright-core)
 * against two real nodes on PostgreSQL: log in, create an account, see an
 * OpenSSH upload appear in file tracking, resubmit a failed delivery, see a
 * node go down on the dashboard. Set FERRY_SCREENSHOT_DIR to keep a
 * screenshot of each page (docs/console/ holds the README's).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { ferryOk, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { sftpBatch, sshKeygen } from './harness/openssh.js';
import { freePort } from './harness/ports.js';
import { launchChromium } from './harness/browser.js';
import { startSshd, type SshdServer } from './harness/sshd.js';

const ROOT_PASSWORD = 'console-root-pw';
const UI_TIMEOUT_MS = 20_000;

describe('web console in Chromium', () => {
  let dir: string;
  let env: FerryEnv;
  let envB: FerryEnv;
  let a: RunningNode;
  let b: RunningNode;
  let browser: Browser;
  let page: Page;
  let partner: SshdServer | undefined;
  const shots = process.env.FERRY_SCREENSHOT_DIR;

  async function screenshot(name: string): Promise<void> {
    if (!shots) return;
    fs.mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  }

  before(async () => {
    dir = tempDir();
    const databaseUrl = await preparedDatabaseUrl('postgres', dir);
    const storageDir = path.join(dir, 'shared');
    const extra = {
      FERRY_NODE_WORKERS: '1',
      FERRY_QUEUE_MAX_ATTEMPTS: '1',
      FERRY_QUEUE_RETRY_DELAY: '200ms',
      FERRY_CLUSTER_LEASE_TTL: '2s',
      FERRY_NODE_HEARTBEAT_INTERVAL: '250ms',
      FERRY_NODE_DEAD_AFTER: '2s',
    };
    env = { dataDir: path.join(dir, 'a'), databaseUrl, storageDir, extra: { ...extra, FERRY_NODE_NAME: 'node-a' } };
    envB = { dataDir: path.join(dir, 'b'), databaseUrl, storageDir, extra: { ...extra, FERRY_NODE_NAME: 'node-b' } };
    await ferryOk(env, ['admin', 'add', 'root', '--role', 'admin', '--password-stdin'], ROOT_PASSWORD + '\n');
    a = await startNode(env);
    b = await startNode(envB);
    browser = await launchChromium();
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT_MS);
  });

  after(async () => {
    await browser?.close();
    await Promise.all([a?.kill('SIGKILL'), b?.kill('SIGKILL'), partner?.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('logs in, refusing a wrong password first', async () => {
    await page.goto(`https://127.0.0.1:${a.adminPort}/`);
    await page.fill('input[name=name]', 'root');
    await page.fill('input[name=password]', 'wrong-password');
    await page.click('button[type=submit]');
    await page.getByRole('alert').getByText('wrong name or password').waitFor();
    await screenshot('login');
    await page.fill('input[name=password]', ROOT_PASSWORD);
    await page.click('button[type=submit]');
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.locator('tr[data-node="node-a"]').waitFor();
    await page.locator('tr[data-node="node-b"]').waitFor();
    assert.match(await page.locator('header .who').innerText(), /root \(admin\)/);
  });

  it('creates an account that then uploads with OpenSSH, and the upload shows in file tracking', async () => {
    await page.click('text=Accounts');
    await page.getByRole('heading', { name: 'Accounts' }).waitFor();
    await page.fill('input[name=account-name]', 'erin');
    await page.fill('input[name=account-password]', 'erin-secret');
    await page.click('text=Create account');
    await page.getByText('account erin created').waitFor();
    await page.locator('a[href="#/accounts/erin"]').waitFor();
    await screenshot('accounts');

    const local = path.join(dir, 'invoice-0042.pdf');
    writeRandomFile(local, 300_000, 42);
    const put = await sftpBatch({ port: b.sftpPort, user: 'erin', password: 'erin-secret', dir }, [`put ${local} invoice-0042.pdf`]);
    assert.equal(put.code, 0, put.stderr);

    await page.click('text=File tracking');
    await page.fill('form[aria-label="search transfers"] input[name=account]', 'erin');
    await page.click('form[aria-label="search transfers"] button[type=submit]');
    const row = page.locator('table[data-testid=transfers] tr', { hasText: '/invoice-0042.pdf' });
    await row.waitFor();
    assert.match(await row.innerText(), /completed/);
    await row.locator('a').click();
    await page.getByRole('heading', { name: /Transfer \d+/ }).waitFor();
    await page.getByText(sha256File(local)).waitFor();
    await screenshot('transfer');
  });

  it('resubmits a failed delivery from its page, and it arrives', async () => {
    const partnerKey = sshKeygen(dir, 'partner_key');
    const port = await freePort();
    const partnerDir = path.join(dir, 'partner');
    await ferryOk(env, ['partner', 'add', 'bank', '--url', `sftp://root@127.0.0.1:${port}${partnerDir}/files`, '--key', partnerKey]);
    await ferryOk(env, ['route', 'add', 'to-bank', '--account', 'erin', '--path', 'pay/*', '--push', 'bank']);
    const local = path.join(dir, 'pay.xml');
    writeRandomFile(local, 50_000, 7);
    const put = await sftpBatch({ port: a.sftpPort, user: 'erin', password: 'erin-secret', dir }, ['mkdir pay', `put ${local} pay/pay.xml`]);
    assert.equal(put.code, 0, put.stderr);

    await page.click('text=File tracking');
    await page.fill('form[aria-label="search transfers"] input[name=account]', '');
    await page.selectOption('form[aria-label="search transfers"] select[name=status]', 'failed');
    await page.click('form[aria-label="search transfers"] button[type=submit]');
    const failed = page.locator('table[data-testid=transfers] tr', { hasText: 'bank' });
    await failed.waitFor();
    assert.match(await failed.innerText(), /delivery/);
    await screenshot('file-tracking');
    await failed.locator('a').click();
    await page.getByRole('button', { name: 'Resubmit' }).waitFor();
    await screenshot('failed-delivery');

    partner = await startSshd(partnerDir, partnerKey + '.pub', { port });
    await page.getByRole('button', { name: 'Resubmit' }).click();
    await page.getByText('delivery queued again').waitFor();
    // The page follows the delivery without a reload until it is completed.
    await page.locator('dl.record .badge.completed').first().waitFor();
    assert.equal(sha256File(path.join(partner.filesDir, 'pay.xml')), sha256File(local));
    await page.getByRole('cell', { name: 'completed' }).first().waitFor();
  });

  it('shows routes, partners, schedules, monitors and an account page', async () => {
    await page.click('text=Routes');
    await page.getByRole('cell', { name: 'to-bank' }).waitFor();
    await screenshot('routes');
    await page.click('text=Partners');
    await page.getByRole('cell', { name: 'bank', exact: true }).waitFor();
    await screenshot('partners');
    await page.click('text=Schedules');
    await page.getByRole('heading', { name: 'Schedules' }).waitFor();
    await screenshot('schedules');
    await page.click('text=Monitors');
    await page.getByRole('heading', { name: 'Folder monitors' }).waitFor();
    await screenshot('monitors');
    await page.goto(`https://127.0.0.1:${a.adminPort}/#/accounts/erin`);
    await page.getByRole('heading', { name: 'Account erin' }).waitFor();
    await page.getByText('any address', { exact: true }).waitFor();
    await screenshot('account');
  });

  it('shows a node going down on the dashboard', async () => {
    await page.click('text=Dashboard');
    const nodeB = page.locator('tr[data-node="node-b"]');
    await nodeB.locator('.badge.active').waitFor();
    await b.kill('SIGKILL');
    await nodeB.locator('.badge.lost').waitFor();
    assert.match(await nodeB.innerText(), /down/);
    await screenshot('dashboard');
    await page.click('text=Cluster events');
    await page.getByRole('cell', { name: 'node-lost' }).first().waitFor();
    await screenshot('events');
  });
});
