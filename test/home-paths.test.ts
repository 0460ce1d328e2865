import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Home } from '../src/storage/home.js';
import { tempDir } from './harness/databases.js';

/** Home.resolve on a real directory tree: what stays inside, what is refused, and what it saw on the way. */
describe('paths inside a home', () => {
  let dir: string;
  let home: Home;

  before(() => {
    dir = tempDir('ferry-home-');
    const root = path.join(dir, 'home');
    home = new Home(root, path.join(dir, 'partial'));
    fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
    fs.writeFileSync(path.join(root, 'a', 'b', 'file.txt'), 'inside');
    fs.writeFileSync(path.join(root, 'plain.txt'), 'inside');
    fs.mkdirSync(path.join(dir, 'outside', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'outside', 'deep', 'secret.txt'), 'outside');
    // Links an administrator might leave: one that stays inside, two that lead out (one dangling).
    fs.symlinkSync(path.join(root, 'a'), path.join(root, 'a', 'b', 'back-to-a'));
    fs.symlinkSync(path.join(dir, 'outside'), path.join(root, 'a', 'out'));
    fs.symlinkSync(path.join(dir, 'outside', 'missing'), path.join(root, 'a', 'b', 'dangling'));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const refused = (clientPath: string) =>
    assert.throws(
      () => home.resolve(clientPath),
      (err: NodeJS.ErrnoException) => err.code === 'EACCES',
      `${clientPath} should be refused`,
    );

  it('resolves nested paths and reports what is there', () => {
    const file = home.resolve('a/b/file.txt');
    assert.equal(file.virtual, '/a/b/file.txt');
    assert.equal(file.real, path.join(home.root, 'a', 'b', 'file.txt'));
    assert.equal(file.found?.isFile(), true);
    assert.equal(file.found?.size, 6);
    assert.equal(home.resolve('/a/b').found?.isDirectory(), true);
    // Nothing there, in an existing directory: null, so the parent need not be looked at again.
    assert.equal(home.resolve('/a/b/new.txt').found, null);
    // A missing directory or a file on the way: not looked at further.
    assert.equal(home.resolve('/a/missing/new.txt').found, undefined);
    assert.equal(home.resolve('/plain.txt/below').found, undefined);
  });

  it('keeps .. at the root and normalises the path', () => {
    const up = home.resolve('../../a//b/./../b/file.txt/');
    assert.equal(up.virtual, '/a/b/file.txt');
    assert.equal(up.found?.isFile(), true);
    assert.equal(home.resolve('/').real, home.root);
  });

  it('follows links that stay inside the home', () => {
    const through = home.resolve('a/b/back-to-a/b/file.txt');
    assert.equal(through.real, path.join(home.root, 'a', 'b', 'back-to-a', 'b', 'file.txt'));
    assert.equal(fs.readFileSync(through.real, 'utf8'), 'inside');
  });

  it('refuses links that lead outside, at any depth, dangling or not', () => {
    refused('a/out');
    refused('a/out/deep');
    refused('a/out/deep/secret.txt');
    refused('a/out/deep/new.txt');
    refused('a/b/dangling');
    refused('a/b/back-to-a/out/deep/secret.txt');
  });
});
