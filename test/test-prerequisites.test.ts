import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const runner = path.join(path.dirname(fileURLToPath(import.meta.url)), 'run.js');

describe('the test command on a machine without the tools', () => {
  it('names each missing program and how to install it, in plain lines, and runs nothing', () => {
    // A PATH with none of the programs, and no installing: what a fresh machine looks like to a non-root user.
    const result = spawnSync(process.execPath, [runner, 'dependency-engines'], {
      encoding: 'utf8',
      env: { PATH: '/nonexistent', FERRY_TEST_INSTALL: 'no', HOME: process.env.HOME ?? '/tmp' },
      timeout: 60_000,
    });
    assert.equal(result.status, 2, result.stderr);
    const lines = result.stderr.trim().split('\n');
    for (const program of ['sftp', 'openssl', 'rclone', 'xmllint']) {
      assert.ok(
        lines.some((line) => line.trim().startsWith(`${program} (`) && /: apt-get install [a-z0-9.-]+$/.test(line)),
        `a line for ${program} with its package:\n${result.stderr}`,
      );
    }
    assert.match(lines.at(-1)!, /^tests: install them all as root with: apt-get update && apt-get install -y --no-install-recommends .*openssh-client/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    assert.doesNotMatch(result.stdout, /# (pass|tests)/, 'no test ran');
  });
});
