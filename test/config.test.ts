import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, environmentName, loadConfig, settingPaths } from '../src/config/load.js';
import { tempDir } from './harness/databases.js';

describe('configuration', () => {
  const dirs: string[] = [];
  const scratch = (): string => {
    const dir = tempDir();
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

  it('has the documented defaults', () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.data.dir, path.resolve('./data'));
    assert.equal(config.storage.dir, path.resolve('./data/files'));
    assert.equal(config.database.url, `sqlite:${path.resolve('./data/ferry.db')}`);
    assert.equal(config.sftp.port, 2222);
    assert.equal(config.admin.port, 8443);
    assert.equal(config.cluster.mode, 'active-active');
    assert.equal(config.storage.partial_max_age, 24 * 3_600_000);
  });

  it('names every setting FERRY_ + its path in upper snake case, as in DESIGN.md', () => {
    const names = settingPaths.map(environmentName);
    for (const expected of [
      'FERRY_DATA_DIR',
      'FERRY_STORAGE_DIR',
      'FERRY_DATABASE_URL',
      'FERRY_NODE_NAME',
      'FERRY_SFTP_PORT',
      'FERRY_ADMIN_PORT',
      'FERRY_CLUSTER_MODE',
    ]) {
      assert.ok(names.includes(expected), expected);
    }
  });

  it('lets the environment win over the file, and the file over defaults', () => {
    const dir = scratch();
    const file = path.join(dir, 'ferry.yaml');
    fs.writeFileSync(file, 'data:\n  dir: /srv/ferry\nsftp:\n  port: 2022\nnode:\n  name: from-file\n');
    const config = loadConfig({ file, env: { FERRY_SFTP_PORT: '3022' } });
    assert.equal(config.sftp.port, 3022);
    assert.equal(config.node.name, 'from-file');
    assert.equal(config.data.dir, '/srv/ferry');
    assert.equal(config.database.url, 'sqlite:/srv/ferry/ferry.db');
  });

  it('refuses bad values, unknown keys and broken YAML with a message naming the setting', () => {
    const dir = scratch();
    assert.throws(
      () => loadConfig({ env: { FERRY_SFTP_PORT: 'seventy' } }),
      (e: Error) => e instanceof ConfigError && /sftp\.port \(FERRY_SFTP_PORT\)/.test(e.message),
    );
    assert.throws(() => loadConfig({ env: { FERRY_CLUSTER_MODE: 'both' } }), /cluster\.mode/);
    assert.throws(() => loadConfig({ env: { FERRY_SFTP_PORT: '8443' } }), /sftp\.port and admin\.port are both 8443/);
    assert.throws(() => loadConfig({ env: { FERRY_STORAGE_PARTIAL_MAX_AGE: 'soon' } }), /invalid duration "soon"/);
    const typo = path.join(dir, 'typo.yaml');
    fs.writeFileSync(typo, 'sftp:\n  prot: 22\n');
    assert.throws(() => loadConfig({ file: typo, env: {} }), /unknown setting in .*: sftp\.prot/);
    const broken = path.join(dir, 'broken.yaml');
    fs.writeFileSync(broken, 'sftp: [\n');
    assert.throws(() => loadConfig({ file: broken, env: {} }), /not valid YAML/);
    assert.throws(() => loadConfig({ file: path.join(dir, 'missing.yaml'), env: {} }), /cannot read config file/);
  });
});
