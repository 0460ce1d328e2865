import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const loggerModule = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/observability/logger.js')).href;

/** The lines a fresh process writes to its stdout with Ferry's logger. */
async function linesLoggedBy(code: string): Promise<Array<Record<string, unknown>>> {
  const script = `import { createLogger } from ${JSON.stringify(loggerModule)};\nconst log = createLogger('info', { node: 'n1' });\n${code}`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('logger', () => {
  it('never writes a password field, at the top of a line or one level down', async () => {
    const lines = await linesLoggedBy(`
      log.info({ account: 'alice', password: 'pa55word' }, 'top');
      const child = log.child({ session: 's1' });
      child.warn({ login: { account: 'alice', password: 'hunter2' }, other: { a: 1 } }, 'nested');
      log.info({ path: '/in/a.csv', bytes: 4096 }, 'plain');
    `);
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['top', 'nested', 'plain'],
    );
    const [top, nested, plain] = lines as [Record<string, any>, Record<string, any>, Record<string, any>];
    assert.equal(top.password, '[redacted]');
    assert.equal(top.account, 'alice');
    assert.deepEqual(nested.login, { account: 'alice', password: '[redacted]' });
    assert.deepEqual(nested.other, { a: 1 });
    assert.equal(nested.session, 's1');
    assert.equal(nested.level, 'warn');
    assert.deepEqual([plain.path, plain.bytes, plain.node], ['/in/a.csv', 4096, 'n1']);
    const all = JSON.stringify(lines);
    assert.ok(!all.includes('pa55word') && !all.includes('hunter2'), all);
  });

  it('leaves the caller’s object as it was', async () => {
    const lines = await linesLoggedBy(`
      const fields = { password: 'pa55word', login: { password: 'hunter2' } };
      log.info(fields, 'first');
      log.info({ seen: fields.password + '/' + fields.login.password }, 'second');
    `);
    assert.equal(lines[1]!.seen, 'pa55word/hunter2');
  });
});
