import assert from 'node:assert/strict';
import { test } from 'node:test';
import { put32le, u16be, u16le, u32be, u32le } from './bytes.js';
import { prng } from './prng.js';

test('the byte readers and writer agree with Buffer\'s own methods, high bits included', () => {
  const next = prng(7);
  const b = Buffer.alloc(64);
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(next() * 256);
    if (round === 0) b.fill(0xff);
    for (let off = 0; off + 4 <= b.length; off++) {
      assert.equal(u16be(b, off), b.readUInt16BE(off));
      assert.equal(u16le(b, off), b.readUInt16LE(off));
      assert.equal(u32be(b, off), b.readUInt32BE(off));
      assert.equal(u32le(b, off), b.readUInt32LE(off));
    }
    const v = round === 0 ? 0xffffffff : Math.floor(next() * 2 ** 32);
    const mine = Buffer.alloc(8);
    const theirs = Buffer.alloc(8);
    put32le(mine, 2, v);
    theirs.writeUInt32LE(v, 2);
    assert.deepEqual(mine, theirs);
  }
});
