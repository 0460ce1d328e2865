import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import { PaddingPool } from '../src/ssh2/padding-pool.js';
import ssh2 from '../src/ssh2/library.js';

/** A real randomFillSync that counts its calls. */
function countingFill() {
  const calls: number[] = [];
  const fill = ((buffer: NodeJS.ArrayBufferView, offset?: number, size?: number) => {
    calls.push(size ?? buffer.byteLength);
    return crypto.randomFillSync(buffer, offset, size);
  }) as typeof crypto.randomFillSync;
  return { fill, calls };
}

describe('SSH padding from a pool of random bytes', () => {
  it('fills only the asked range, with bytes never handed out twice, refilling 16 KiB at a time', () => {
    const real = countingFill();
    const pool = new PaddingPool(real.fill);
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const packet = Buffer.alloc(64, 0xee);
      assert.equal(pool.fill(packet, 10, 16), packet);
      assert.ok(
        packet.subarray(0, 10).every((b) => b === 0xee),
        'bytes before the range untouched',
      );
      assert.ok(
        packet.subarray(26).every((b) => b === 0xee),
        'bytes after the range untouched',
      );
      const padding = packet.subarray(10, 26).toString('hex');
      assert.ok(!seen.has(padding), `padding ${i} repeats an earlier one`);
      seen.add(padding);
    }
    // 2,000 x 16 bytes = 32,000 bytes: two refills of 16 KiB, not 2,000 calls.
    assert.deepEqual(real.calls, [16384, 16384]);
  });

  it('passes large fills and other argument shapes to the real function', () => {
    const real = countingFill();
    const pool = new PaddingPool(real.fill);
    const large = Buffer.alloc(1024);
    pool.fill(large, 0, 1024);
    const whole = new Uint8Array(32);
    pool.fill(whole);
    const noSize = Buffer.alloc(40);
    pool.fill(noSize, 8);
    assert.deepEqual(real.calls, [1024, 32, 40]);
    assert.ok(large.some((b) => b !== 0) && whole.some((b) => b !== 0) && noSize.subarray(8).some((b) => b !== 0));
    // Out-of-range requests get the real function's own error.
    assert.throws(() => pool.fill(Buffer.alloc(8), 4, 16), { code: 'ERR_OUT_OF_RANGE' });
  });

  it('is seen by ssh2 only: the crypto module keeps its own randomFillSync', () => {
    assert.ok(ssh2.Server, 'ssh2 loaded through ssh2/library.ts');
    // The pool's function is named fill; Node's own, randomFillSync.
    assert.equal(crypto.randomFillSync.name, 'randomFillSync');
  });
});
