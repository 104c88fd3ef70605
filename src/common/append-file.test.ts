import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeAppendFiles, openAppendFile } from './append-file.js';
import { prng } from './prng.js';

/** Pages of `path` in the page cache, from util-linux's fincore. */
function cachedPages(path: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'PAGES', path], { encoding: 'utf8' }).trim());
}

for (const native of [true, false]) {
  test(`${native ? 'native' : 'plain'} append file: after every flush the file holds exactly what was appended, across buffer boundaries`, (t) => {
    if (native && !nativeAppendFiles) return t.skip('the pcap_binding addon is not built (npm run build)');
    const dir = mkdtempSync(join(tmpdir(), 'tapline-append-'));
    try {
      const path = join(dir, 'f');
      const f = openAppendFile(path, { bufferBytes: 8192, native });
      const rnd = prng(42);
      const chunks: Buffer[] = [];
      let flushes = 0;
      for (let i = 0; i < 400; i++) {
        // Empty appends, appends smaller than a block, and some larger than the buffer.
        const len = rnd() < 0.1 ? 0 : rnd() < 0.9 ? Math.floor(rnd() * 3000) : 8192 + Math.floor(rnd() * 20_000);
        const b = Buffer.alloc(len + 16);
        for (let k = 0; k < b.length; k++) b[k] = (i * 31 + k) & 0xff;
        // From the middle of a larger buffer: start and end are honoured.
        f.append(b, 8, 8 + len);
        chunks.push(b.subarray(8, 8 + len));
        if (rnd() < 0.15) {
          f.flush();
          flushes++;
          assert.ok(readFileSync(path).equals(Buffer.concat(chunks)), `after flush ${flushes} (append ${i})`);
        }
      }
      f.close();
      const all = Buffer.concat(chunks);
      assert.ok(all.length > 1 << 20, `${all.length} bytes`);
      assert.equal(statSync(path).size, all.length);
      assert.ok(readFileSync(path).equals(all));
      // Closing twice is harmless; appending after close is an error.
      f.close();
      assert.throws(() => f.append(Buffer.alloc(1), 0, 1), /closed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('native append file: what it writes does not stay in the page cache (O_DIRECT)', (t) => {
  if (!nativeAppendFiles) return t.skip('the pcap_binding addon is not built (npm run build)');
  const dir = mkdtempSync(join(tmpdir(), 'tapline-append-'));
  try {
    const path = join(dir, 'f');
    const f = openAppendFile(path, { bufferBytes: 1 << 20, native: true });
    if (!f.direct) {
      f.close();
      return t.skip(`${tmpdir()} does not take O_DIRECT`);
    }
    const block = Buffer.alloc(1 << 20, 7);
    for (let i = 0; i < 16; i++) f.append(block, 0, block.length);
    // A tail that is not a whole page: written through the cache at flush.
    f.append(block, 0, 100);
    f.flush();
    f.close();
    assert.equal(statSync(path).size, 16 * block.length + 100);
    // 4,097 pages of 4 KiB were written; the tail's page at most is cached.
    assert.ok(cachedPages(path) <= 1, `${cachedPages(path)} pages cached`);
    // The same bytes written plainly stay cached: the check can see the difference.
    const plain = join(dir, 'g');
    const g = openAppendFile(plain, { bufferBytes: 1 << 20, native: false });
    for (let i = 0; i < 16; i++) g.append(block, 0, block.length);
    g.close();
    assert.ok(cachedPages(plain) >= 4096, `${cachedPages(plain)} pages cached`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
