import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCaptureFile } from '../capture/index.js';
import { nativeAddonPath } from '../common/native.js';
import { prng } from '../common/prng.js';
import type { Entry } from '../entries/index.js';
import { createPipeline } from '../pipeline/index.js';
import { repoRoot } from '../../test/support/paths.js';
import { lazyText, pendingBodyTexts, pendingText, stringifyUnsettled } from '../protocols/http/lazy-text.js';
import { createSharedOutput, FdLineWriter } from './fd-writer.js';
import { entryJsonParts, JSON_TEXT_GROWTH, nativeJsonText, type JsonParts, type WriteJsonText } from './json-line.js';

// The addon is built by `npm run build`; without it every line would take the JSON.stringify path.
const writer = nativeJsonText as WriteJsonText;

/** The same source built with TAPLINE_NO_SIMD: the path CPUs without SSE2 (arm64 nodes) take. */
const portable = (createRequire(import.meta.url)(nativeAddonPath('json_text_portable')) as { writeJsonText: WriteJsonText }).writeJsonText;
const BUILDS: [string, WriteJsonText][] = [
  ['json_text', writer],
  ['json_text_portable', portable],
];

/** What JSON.stringify writes between the quotes for the text of `bytes`: the oracle. */
function v8Text(bytes: Buffer, base64: boolean): Buffer {
  const json = JSON.stringify(bytes.toString(base64 ? 'base64' : 'utf8'));
  return Buffer.from(json.slice(1, -1), 'utf8');
}

const CANARY = 0xa5;

/** Seeded integers in [0, n). */
function ints(seed: number): { int(n: number): number } {
  const next = prng(seed);
  return { int: (n) => Math.floor(next() * n) };
}

/** The addon's text of `bytes`, written into exactly the room it asks for, with canaries around. */
function nativeText(bytes: Buffer, base64: boolean, write: WriteJsonText = writer): Buffer {
  const room = bytes.length * JSON_TEXT_GROWTH;
  const outer = Buffer.alloc(room + 32, CANARY);
  const dst = outer.subarray(16, 16 + room);
  const end = write(bytes, dst, 0, base64);
  for (let i = 0; i < 16; i++) assert.equal(outer[i], CANARY, 'wrote before dst');
  for (let i = 16 + room; i < outer.length; i++) assert.equal(outer[i], CANARY, `wrote past dst (${bytes.toString('hex')})`);
  return Buffer.from(dst.subarray(0, end));
}

/** Pieces that exercise every path: plain runs (16-byte blocks), escapes, controls, DEL, valid and broken UTF-8. */
const PIECES: number[][] = [
  [...Buffer.from('plain text, long enough for a block')],
  [...Buffer.from('{"k":"v","n":[1,2]}')],
  [0x22], [0x5c], [0x00], [0x08], [0x09], [0x0a], [0x0c], [0x0d], [0x1b], [0x1f], [0x7f], [0x41], [0x20],
  [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xc3, 0xa9], [0xed, 0x9f, 0xbf], [0xef, 0xbf, 0xbf],
  // Broken: stray continuations, overlongs, surrogates, out of range, cut sequences.
  [0x80], [0xbf], [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xe0, 0x9f], [0xed, 0xa0, 0x80],
  [0xf0, 0x8f], [0xf4, 0x90, 0x80, 0x80], [0xf5], [0xff], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3],
];

test('the json_text addon is built', () => {
  assert.equal(typeof nativeJsonText, 'function', 'native/build/Release/json_text.node did not load: run npm run build');
});

for (const [build, write] of BUILDS) {
  describe(`the ${build} addon`, () => {
    const text = (bytes: Buffer, base64 = false) => nativeText(bytes, base64, write);

    test('writes what JSON.stringify writes for the UTF-8 text of any bytes, and never past its room', () => {
      const rand = ints(0x150a);
      for (let t = 0; t < 20000; t++) {
        let bytes: Buffer;
        if (t % 3 === 0) {
          bytes = Buffer.alloc(rand.int(200));
          for (let i = 0; i < bytes.length; i++) bytes[i] = rand.int(256);
        } else {
          const parts: number[] = [];
          const n = rand.int(t % 3 === 1 ? 12 : 60);
          for (let i = 0; i < n; i++) parts.push(...PIECES[rand.int(PIECES.length)]);
          bytes = Buffer.from(parts);
        }
        assert.deepEqual(text(bytes), v8Text(bytes, false), `bytes ${bytes.toString('hex')}`);
      }
    });

    test('writes long bodies of each kind as JSON.stringify does', () => {
      const json = Buffer.from(JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `item "${i}"\\`, note: 'a\nb\tc' }))));
      const html = Buffer.from('<p>caf\u00e9 \u20ac \u{1f600}</p>\n'.repeat(3000));
      const ascii = Buffer.from('x'.repeat(100_003));
      for (const b of [json, html, ascii, Buffer.alloc(0)]) assert.deepEqual(text(b), v8Text(b, false));
    });

    test('fills its room exactly when every byte is escaped at full length, and no more', () => {
      for (let n = 0; n <= 70; n++) {
        for (const fill of [0x01, 0x22, 0x80]) {
          const b = Buffer.alloc(n, fill);
          assert.deepEqual(text(b), v8Text(b, false), `${n} bytes of ${fill}`);
        }
      }
    });

    test('writes base64 as Buffer#toString does', () => {
      const rand = ints(64);
      for (let n = 0; n < 300; n++) {
        const b = Buffer.alloc(n);
        for (let i = 0; i < n; i++) b[i] = rand.int(256);
        assert.deepEqual(text(b, true), v8Text(b, true));
      }
    });

    test('says what is wrong with its arguments', () => {
      const call = write as unknown as (...a: unknown[]) => number;
      assert.throws(() => call('text', Buffer.alloc(10), 0, false), /src must be a Buffer/);
      assert.throws(() => call(Buffer.alloc(2), Buffer.alloc(11), 0, false), /6 bytes free per byte of src/);
      assert.throws(() => call(Buffer.alloc(1), Buffer.alloc(6), 7, false), /offset must be a number within dst/);
      assert.throws(() => call(Buffer.alloc(1), Buffer.alloc(6), 0), /four arguments/);
    });
  });
}

/** A line of parts as FdLineWriter.lineParts writes it. */
function render(parts: JsonParts): string {
  const chunks = parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : nativeText(p.bytes, p.base64)));
  return Buffer.concat(chunks).toString('utf8');
}

function httpEntry(requestBody: Buffer | null, responseBody: Buffer, base64: boolean): Record<string, unknown> {
  const content: Record<string, unknown> = { mimeType: base64 ? 'image/png' : 'application/json', size: responseBody.length };
  lazyText(content, responseBody, base64);
  if (base64) content.encoding = 'base64';
  const request: Record<string, unknown> = { method: 'POST', url: '/x', headers: { 'x-a': '"q"' } };
  if (requestBody !== null) {
    const postData: Record<string, unknown> = { mimeType: 'text/plain' };
    lazyText(postData, requestBody);
    request.postData = postData;
  }
  return { id: 'e1', protocol: { name: 'http' }, request, response: { status: 200, content }, elapsedTime: 3 };
}

describe('entryJsonParts', () => {
  test('a line from parts is the JSON.stringify of the entry, bodies in place, and leaves the text unread', () => {
    const cases: [Buffer | null, Buffer, boolean][] = [
      [Buffer.from('a=1&b="2"'), Buffer.from('{"ok":true,"s":"\\u00e9\u00e9"}'), false],
      [null, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]), true],
      [Buffer.from([0xc3, 0x28, 0x0a]), Buffer.alloc(0), false],
    ];
    for (const [req, res, base64] of cases) {
      const entry = httpEntry(req, res, base64);
      const parts = entryJsonParts(entry, writer);
      assert.equal(parts.filter((p) => typeof p !== 'string').length, req === null ? 1 : 2);
      assert.equal(pendingBodyTexts(entry).length, req === null ? 1 : 2, 'the bodies are still bytes after the line was made');
      assert.equal(render(parts), JSON.stringify(httpEntry(req, res, base64)));
    }
  });

  test('a body holding the mark itself does not move the cut', () => {
    const forged = Buffer.from('\u0000tapline-body-00000000-0000-0000-0000-000000000000-0 and "quotes"');
    const entry = httpEntry(forged, forged, false);
    assert.equal(render(entryJsonParts(entry, writer)), JSON.stringify(httpEntry(forged, forged, false)));
  });

  test('without the addon, or once the text was read, the line is JSON.stringify alone', () => {
    const entry = httpEntry(Buffer.from('p'), Buffer.from('r'), false);
    assert.deepEqual(entryJsonParts(entry, null), [JSON.stringify(entry)]);
    const read = httpEntry(null, Buffer.from('"r"'), false);
    assert.equal((read.response as { content: { text: string } }).content.text, '"r"');
    assert.deepEqual(entryJsonParts(read, writer), [JSON.stringify(read)]);
  });
});

describe('FdLineWriter.lineParts', () => {
  test('writes lines of parts, smaller and far larger than its block, as JSON.stringify would', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapline-lines-'));
    try {
      const file = join(dir, 'out.jsonl');
      const fd = openSync(file, 'w');
      const out = new FdLineWriter(fd, createSharedOutput(undefined), 64);
      const bodies = [Buffer.from('small "one"'), Buffer.from('\u0001\n"\\ caf\u00e9 '.repeat(20000)), Buffer.from([0xff, 0x00, 0x41]), Buffer.alloc(0)];
      const want: string[] = [];
      for (const [i, b] of bodies.entries()) {
        const entry = httpEntry(null, b, i === 2);
        want.push(JSON.stringify(httpEntry(null, b, i === 2)));
        out.lineParts(entryJsonParts(entry, writer), writer);
      }
      out.line('{"last":true}');
      want.push('{"last":true}');
      out.flush();
      closeSync(fd);
      assert.equal(readFileSync(file, 'utf8'), want.join('\n') + '\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lines of real captures', () => {
  const entriesOf = async (file: string, lazyBodyText: boolean, maxBodyText: number): Promise<Entry[]> => {
    const out: Entry[] = [];
    const p = createPipeline({ nodeName: 't', settings: { maxBodyText, lazyBodyText }, onEntry: (e) => out.push(e) });
    await readCaptureFile(file, p.push);
    p.finish();
    return out;
  };

  for (const file of ['src/protocols/http/fixtures/nginx.pcap', 'examples/demo.pcapng']) {
    test(`${file}: each line written from the bytes is the JSON.stringify of the eager entry, at two text caps`, async () => {
      for (const maxBodyText of [64, 65536]) {
        const eager = await entriesOf(join(repoRoot, file), false, maxBodyText);
        const lazy = await entriesOf(join(repoRoot, file), true, maxBodyText);
        assert.equal(eager.filter((e) => pendingBodyTexts(e).length > 0).length, 0, 'lazy text only when asked for');
        const withBodies = lazy.filter((e) => pendingBodyTexts(e).length > 0).length;
        assert.ok(withBodies >= 5, `${withBodies} entries with body text still as bytes`);
        assert.equal(lazy.length, eager.length);
        lazy.forEach((e, i) => assert.equal(render(entryJsonParts(e, writer)), JSON.stringify(eager[i]), `entry ${i} at cap ${maxBodyText}`));
      }
    });
  }
});

describe('lazyText', () => {
  test('reads as a plain string property: decoded once, then a data property in its place', () => {
    const rec: Record<string, unknown> = { mimeType: 'text/plain' };
    lazyText(rec, Buffer.from('h\u00e9llo'));
    rec.size = 6;
    assert.ok(pendingText(rec) !== undefined);
    assert.deepEqual(Object.keys(rec), ['mimeType', 'text', 'size']);
    assert.equal(rec.text, 'h\u00e9llo');
    assert.equal(pendingText(rec), undefined);
    assert.deepEqual(Object.getOwnPropertyDescriptor(rec, 'text'), { value: 'h\u00e9llo', enumerable: true, configurable: true, writable: true });
    assert.deepEqual(rec, { mimeType: 'text/plain', text: 'h\u00e9llo', size: 6 });
  });

  test('copies, clones and JSON see the text; a write replaces it', () => {
    const rec: Record<string, unknown> = {};
    lazyText(rec, Buffer.from([1, 2, 3]), true);
    assert.deepEqual(structuredClone(rec), { text: 'AQID' });
    const other: Record<string, unknown> = {};
    lazyText(other, Buffer.from('x'));
    assert.equal(JSON.stringify({ ...other }), '{"text":"x"}');
    const written: Record<string, unknown> = {};
    lazyText(written, Buffer.from('old'));
    written.text = 'new';
    assert.equal(written.text, 'new');
    assert.equal(pendingText(written), undefined);
  });

  test('stringifyUnsettled writes the text and leaves it bytes; a read after it still decodes and keeps it', () => {
    const rec: Record<string, unknown> = { mimeType: 'text/plain' };
    const bytes = Buffer.from('caf\u00e9 "q"');
    lazyText(rec, bytes);
    const entry = { response: { content: rec }, n: 1 };
    assert.equal(stringifyUnsettled(entry), JSON.stringify({ response: { content: { mimeType: 'text/plain', text: 'caf\u00e9 "q"' } }, n: 1 }));
    assert.equal(pendingText(rec)?.bytes, bytes);
    assert.equal(rec.text, 'caf\u00e9 "q"');
    assert.equal(pendingText(rec), undefined);
    // A throwing value inside does not leave the mode on.
    assert.throws(() => stringifyUnsettled({ rec, big: 1n }), TypeError);
    const again: Record<string, unknown> = {};
    lazyText(again, Buffer.from('x'));
    assert.equal(again.text, 'x');
    assert.equal(pendingText(again), undefined);
  });
});
