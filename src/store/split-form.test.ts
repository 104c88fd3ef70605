import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import type { Entry } from '../entries/index.js';
import { join } from 'node:path';
import { readCaptureFile } from '../capture/index.js';
import { createPipeline } from '../pipeline/index.js';
import { defaultParserSettings } from '../protocols/types.js';
import { fixtureDir, fixtureEntries } from './bench.js';
import { entryOf, storedForm, storedFormHas } from './schema.js';
import { readSplit, splitBytes, splitParts, SplitFormError, SPLIT_TAG, writeSplit } from './split-form.js';
import { lazyText, pendingText } from '../protocols/http/lazy-text.js';
import { HEAD_KEYS, headOf } from '../protocols/http/kept-head.js';
import { chunk, httpSamples, T0 } from '../protocols/http/samples.js';
import { runParser, sampleConn, type SampleChunk } from '../protocols/conformance.js';
import { http } from '../protocols/http/index.js';
import { createEntryBuilder } from '../entries/index.js';
import { stringsOf } from './test-support.js';

/** A deferred gzip body as the HTTP parser records one (deferGzipBodies). */
function deferredOf(text: string): Record<string, unknown> {
  const gz = gzipSync(text);
  return { cap: 65536, maxDecodedBytes: 1 << 30, bytes: gz, overflow: false, gapped: false, tail: gz.subarray(gz.length - 4), complete: true };
}

/** The DNS fixture's entries, its records keeping their messages (dnsWire) or not. */
async function dnsFixture(dnsWire: boolean): Promise<Entry[]> {
  const out: Entry[] = [];
  const p = createPipeline({ nodeName: 'x', settings: { ...defaultParserSettings, dnsWire }, onEntry: (e) => out.push(e) });
  await readCaptureFile(join(fixtureDir, 'dns/fixtures/dns-dnsmasq.pcap'), (pk) => p.push(pk));
  p.finish();
  return out.filter((e) => e.protocol.name === 'dns');
}

async function httpBase(): Promise<Entry> {
  const http = (await fixtureEntries()).find((e) => e.protocol.name === 'http');
  assert.ok(http, 'the fixture has an HTTP entry');
  return http;
}

function withBodies(base: Entry, id: string, request: Record<string, unknown> | undefined, response: Record<string, unknown> | undefined): Entry {
  return {
    ...base,
    id,
    request: { ...base.request, ...(request ? { postData: request } : {}) },
    response: { ...base.response, ...(response ? { content: response } : {}) },
  } as Entry;
}

/** The entries of one connection's chunks, as the HTTP parser makes them with `settings`. */
function httpEntries(chunks: readonly SampleChunk[], settings: Partial<typeof defaultParserSettings>, limits: Record<string, number> = {}): Entry[] {
  const conn = sampleConn('tcp');
  const run = runParser(http, conn, chunks, { settings: { ...defaultParserSettings, ...settings }, limits });
  const build = createEntryBuilder({ nodeName: 'x' });
  return run.items.map((item, i) => build(conn, item, i));
}

/** Heads whose fields are not all pieces of their text, and limits that change what is kept. */
const oddHeads: { name: string; chunks: SampleChunk[]; limits?: Record<string, number> }[] = [
  {
    name: 'joined fields, obs-fold, __proto__, Latin-1, decoded query, absolute form',
    chunks: [
      chunk(
        0,
        'GET http://api.example:8080/v1/items/?q=caf%C3%A9+au+lait&tag=a&tag=b&bad=%E0%A4%A&e%3Dq=1&plus=a+b HTTP/1.1\r\n' +
          'X-Multi: one\r\nx-multi: two\r\n__proto__: polluted\r\nX-Folded: first\r\n  second line\r\nX-Latin: caf\xe9\r\n' +
          'Cookie: a=1; b = 2 \r\nCookie: c=3\r\nContent-Length: 0\r\n\r\n',
      ),
      chunk(1, 'HTTP/1.1 404 Not \xc4\xe9 Found\r\nSet-Cookie: s=1; Path=/\r\nSet-Cookie: t=2\r\nVary: Accept\r\nVary: Cookie\r\nContent-Length: 2\r\n\r\nno', T0, 500),
    ],
  },
  {
    name: 'trailers merged into the response headers: that head is not kept',
    chunks: [
      chunk(0, 'GET /t HTTP/1.1\r\nHost: t\r\nTE: trailers\r\n\r\n'),
      chunk(1, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n', T0, 100),
    ],
  },
  {
    name: 'more fields than maxHeaders: the limit is kept with the head',
    limits: { maxHeaders: 3 },
    chunks: [
      chunk(0, 'GET /many HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nA: 5\r\nContent-Length: 0\r\n\r\n'),
      chunk(1, 'HTTP/1.0 200 OK\r\nE: 1\r\nF: 2\r\nG: 3\r\nH: 4\r\nContent-Length: 0\r\n\r\n', T0, 100),
    ],
  },
  {
    name: 'a head cut at maxHeaderBytes',
    limits: { maxHeaderBytes: 120 },
    chunks: [
      chunk(0, 'GET /cut HTTP/1.1\r\nHost: c\r\nX-Long: ' + 'v'.repeat(60) + '\r\nX-Longer: ' + 'w'.repeat(200) + '\r\n\r\n'),
      chunk(1, 'HTTP/1.1 204 No Content\r\n\r\n', T0, 100),
    ],
  },
  { name: 'a response without its request', chunks: [chunk(1, 'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n')] },
];

describe('the split stored form', () => {
  test('entries with body texts and deferred bodies read back as JSON would keep them, and the entry is not changed', async () => {
    const base = await httpBase();
    const unicode = 'h\u00e9llo \u2713 \u{1F600} '.repeat(300);
    const cases: Entry[] = [
      withBodies(base, 'response-text', undefined, { mimeType: 'application/json', size: 3000, text: '{"a":"b\\"c"}'.repeat(250) }),
      withBodies(base, 'both-texts', { mimeType: 'text/plain', text: 'form=1&x=2' }, { mimeType: 'text/plain', size: unicode.length, text: unicode }),
      withBodies(base, 'base64', undefined, { mimeType: 'application/octet-stream', encoding: 'base64', text: Buffer.alloc(3000, 7).toString('base64') }),
    ];
    for (const e of cases) {
      const before = JSON.stringify(e);
      const parts = splitParts(e);
      assert.ok(parts, e.id);
      assert.equal(JSON.stringify(e), before, `${e.id}: the entry itself is unchanged`);
      const b = Buffer.alloc(parts.maxBytes + 3, 0xaa);
      const n = writeSplit(parts, b, 3);
      assert.ok(n <= parts.maxBytes, `${e.id}: writeSplit stays within maxBytes`);
      assert.ok(b.subarray(3 + n).every((x) => x === 0xaa), `${e.id}: nothing written past what writeSplit counts`);
      const stored = b.subarray(3, 3 + n);
      assert.deepEqual(stored, splitBytes(e), `${e.id}: the same bytes as splitBytes`);
      assert.equal(stored[0], SPLIT_TAG);
      assert.deepEqual(readSplit(stored), JSON.parse(before), e.id);
    }
    // Texts go out as they are; the skeleton keeps "" in their place, in the same key order.
    const parts = splitParts(cases[1]!)!;
    assert.deepEqual(parts.slots, [1, 2]);
    assert.deepEqual(parts.values, ['form=1&x=2', unicode]);
    assert.equal(Object.keys(JSON.parse(parts.skeleton).response.content).join(), Object.keys(cases[1]!.response!.content as object).join());
    // An empty text has nothing to take out.
    assert.equal(splitParts(withBodies(base, 'empty-text', undefined, { mimeType: 'text/plain', size: 0, text: '' })), undefined);
  });

  test('deferred gzip bodies keep their bytes and decode when read, on both sides', async () => {
    const base = await httpBase();
    const reqText = 'request body '.repeat(500);
    const resText = 'response body '.repeat(2000);
    const e = withBodies(base, 'deferred', { mimeType: 'text/plain', deferred: deferredOf(reqText) }, { mimeType: 'text/plain', deferred: deferredOf(resText) });
    const stored = storedForm(e);
    assert.ok(Buffer.isBuffer(stored) && stored[0] === SPLIT_TAG, 'a deferred body is stored in the split form');
    assert.deepEqual(splitParts(e)!.slots, [3, 4, 5, 6]);
    const raw = readSplit(stored);
    const d = (raw.response as { content: { deferred: { bytes: Buffer; tail: Buffer } } }).content.deferred;
    assert.deepEqual(d.bytes, (e.response as { content: { deferred: { bytes: Buffer } } }).content.deferred.bytes);
    assert.deepEqual(d.tail, (e.response as { content: { deferred: { tail: Buffer } } }).content.deferred.tail);
    const read = entryOf(stored);
    assert.equal((read.request as { postData: { text: string } }).postData.text, reqText);
    assert.equal((read.response as { content: { text: string } }).content.text, resText);
    assert.equal((read.response as { bodySize: number }).bodySize, Buffer.byteLength(resText));
  });

  test('a text that is not well-formed UTF-16 stays in the skeleton and comes back exactly', async () => {
    const base = await httpBase();
    const broken = 'ab\ud800cd'.repeat(400);
    const e = withBodies(base, 'surrogate', { mimeType: 'text/plain', text: 'x'.repeat(2000) }, { mimeType: 'text/plain', text: broken });
    const parts = splitParts(e)!;
    assert.deepEqual(parts.slots, [1], 'only the well-formed text is taken out');
    const read = entryOf(storedForm(e));
    assert.equal((read.response as { content: { text: string } }).content.text, broken);
    assert.equal((read.request as { postData: { text: string } }).postData.text, 'x'.repeat(2000));
  });

  test('body texts still held as bytes (lazyBodyText, the tap) are written as they are and read back as the strings would have been', async () => {
    const base = await httpBase();
    const cases: [string, Buffer, boolean][] = [
      ['UTF-8 text', Buffer.from('{"name":"café","q":"\\"x\\"","n":[1,2,3]}\n'.repeat(40)), false],
      ['bad UTF-8 (each bad sequence becomes U+FFFD, as toString makes it)', Buffer.from([0x61, 0xc3, 0x28, 0xe2, 0x82, 0x0a, 0xff, 0xf0, 0x9f, 0x98, 0x80, 0x62]), false],
      ['binary, in base64 only when read', Buffer.from(Array.from({ length: 3001 }, (_, i) => (i * 7919) & 0xff)), true],
    ];
    for (const [name, bytes, base64] of cases) {
      const lazyReq: Record<string, unknown> = { mimeType: base64 ? 'application/octet-stream' : 'text/plain', size: bytes.length };
      lazyText(lazyReq, bytes, base64);
      if (base64) lazyReq.encoding = 'base64';
      const lazyRes: Record<string, unknown> = { mimeType: 'text/plain', size: 2 };
      lazyText(lazyRes, Buffer.from('ok'));
      const lazy = withBodies(base, 'lazy', lazyReq, lazyRes);
      const eager = withBodies(base, 'lazy', { mimeType: lazyReq.mimeType, size: bytes.length, text: bytes.toString(base64 ? 'base64' : 'utf8'), ...(base64 ? { encoding: 'base64' } : {}) }, { mimeType: 'text/plain', size: 2, text: 'ok' });
      const parts = splitParts(lazy)!;
      assert.equal(pendingText(lazyReq)?.bytes, bytes, `${name}: writing did not make the text`);
      assert.ok(parts.values.includes(bytes), `${name}: the bytes themselves are written`);
      const room = Buffer.alloc(parts.maxBytes);
      const written = room.subarray(0, writeSplit(parts, room, 0));
      assert.deepEqual(readSplit(written), JSON.parse(JSON.stringify(eager)), name);
      assert.deepEqual(entryOf(written), JSON.parse(JSON.stringify(eager)), name);
      if (base64) assert.ok(written.length < splitBytes(eager)!.length, `${name}: smaller than its base64`);
    }
  });

  test('an entry without bodies has no split form', async () => {
    const entries = await fixtureEntries();
    const dns = entries.find((e) => e.protocol.name === 'dns')!;
    assert.equal(splitParts(dns), undefined);
    assert.equal(splitBytes(dns), undefined);
    assert.equal(typeof storedForm(dns), 'string');
  });

  test('DNS records kept as their messages are stored as the messages and read back as the records, byte for byte', async () => {
    const eager = await dnsFixture(false);
    const kept = await dnsFixture(true);
    assert.ok(kept.length >= 4 && kept.length === eager.length, `DNS entries: ${kept.length}`);
    let namesNotAsText = 0;
    let storedBytes = 0;
    let jsonBytes = 0;
    for (let i = 0; i < kept.length; i++) {
      const json = JSON.stringify(eager[i]);
      assert.equal(JSON.stringify(kept[i]), json, 'the records themselves are unchanged');
      const stored = storedForm(kept[i]!);
      assert.ok(Buffer.isBuffer(stored) && stored[0] === SPLIT_TAG, 'the split form');
      assert.ok(stored.length < json.length, `${stored.length} bytes stored against ${json.length} of JSON`);
      storedBytes += stored.length;
      jsonBytes += json.length;
      assert.equal(JSON.stringify(entryOf(stored)), json);
      // A name is in a message as labels, not as text: the records' texts beside the messages are what a text search finds.
      const name = (eager[i]!.request as { questions: { name: string }[] }).questions[0]!.name;
      if (!stored.subarray(0, 5 + stored.readUInt32LE(1)).includes(name)) namesNotAsText++;
      if (!name.includes('\\')) assert.equal(storedFormHas([name])(stored), true, name);
      assert.equal(storedFormHas(['not-in-this-entry.example'])(stored), false);
      assert.equal(storedForm(eager[i]!), json, 'without the messages the entry is stored as JSON');
      if (!name.includes('\\')) assert.equal(storedFormHas([name])(Buffer.from(json)), true, name);
      assert.equal(storedFormHas(['not-in-this-entry.example'])(Buffer.from(json)), false);
    }
    assert.ok(storedBytes < (jsonBytes * 2) / 3, `${storedBytes} bytes stored against ${jsonBytes} of JSON`);
    assert.equal(namesNotAsText, kept.length, 'no question name is in a skeleton');
    // A message slot cut below its header is damage, named.
    const stored = storedForm(kept[0]!) as Buffer;
    const skeletonEnd = 5 + stored.readUInt32LE(1);
    const cut = Buffer.concat([stored.subarray(0, skeletonEnd), Buffer.from([1, 9, 4, 0, 0, 0, 0, 0, 0, 0])]);
    assert.throws(() => readSplit(cut), (e: unknown) => e instanceof SplitFormError && /slot 9: not a DNS message as written/.test(e.message));
  });

  test('HTTP records kept with their heads are stored as the heads and read back as the records, byte for byte', () => {
    const cases = [...httpSamples.map((c) => ({ name: c.name, chunks: c.chunks, limits: undefined })), ...oddHeads];
    let heads = 0;
    let storedBytes = 0;
    let jsonBytes = 0;
    for (const c of cases) {
      const eager = httpEntries(c.chunks, {}, c.limits);
      const kept = httpEntries(c.chunks, { httpHeads: true }, c.limits);
      assert.ok(eager.length > 0 && kept.length === eager.length, `${c.name}: ${kept.length} entries`);
      for (let i = 0; i < kept.length; i++) {
        const json = JSON.stringify(eager[i]);
        assert.equal(JSON.stringify(kept[i]), json, `${c.name}: the records themselves are unchanged`);
        for (const side of ['request', 'response'] as const) {
          const record = kept[i]![side] as Record<string, unknown> | undefined;
          if (record === undefined) continue;
          const head = headOf(record);
          // Trailers merged into the headers: the fields are no longer what the head reads to.
          const headers = record.headers as Record<string, string>;
          if (headers.Trailer !== undefined && headers[headers.Trailer] !== undefined) {
            assert.equal(head, undefined, `${c.name}: a head whose fields were changed is not kept`);
            continue;
          }
          assert.ok(head !== undefined, `${c.name}: ${side} head kept`);
          heads++;
        }
        const stored = storedForm(kept[i]!);
        assert.ok(Buffer.isBuffer(stored) && stored[0] === SPLIT_TAG, `${c.name}: the split form`);
        storedBytes += stored.length;
        jsonBytes += Buffer.byteLength(json);
        assert.equal(JSON.stringify(entryOf(stored)), json, `${c.name}: entry ${i} reads back byte for byte`);
        // Every text of the head fields is in the stored bytes, where storedFormHas looks for KFL's literals.
        const skeleton = JSON.parse(stored.toString('utf8', 5, 5 + stored.readUInt32LE(1))) as Record<string, Record<string, unknown>>;
        for (const side of ['request', 'response'] as const) {
          const record = JSON.parse(json)[side] as Record<string, unknown> | undefined;
          if (record === undefined || headOf(kept[i]![side]) === undefined) continue;
          for (const k of HEAD_KEYS[side]) {
            assert.ok(!(k in skeleton[side]), `${c.name}: ${side}.${k} is not in the skeleton`);
            for (const t of stringsOf(record[k])) {
              assert.ok(stored.includes(Buffer.from(t, 'latin1')) || stored.includes(Buffer.from(t, 'utf8')), `${c.name}: ${side}.${k}: ${JSON.stringify(t)} is in the stored bytes`);
              if (/^[\x20-\x7e]+$/.test(t) && !/["\\]/.test(t)) assert.equal(storedFormHas([t])(stored), true, `${c.name}: storedFormHas ${JSON.stringify(t)}`);
            }
          }
        }
        assert.equal(storedFormHas(['not-in-this-entry.example'])(stored), false);
      }
    }
    assert.ok(heads >= 14, `heads kept: ${heads}`);
    assert.ok(storedBytes < jsonBytes, `${storedBytes} bytes stored against ${jsonBytes} of JSON`);
    // The joined and decoded values are not in the heads as they are, and are found all the same.
    const [odd] = httpEntries(oddHeads[0]!.chunks, { httpHeads: true });
    const stored = storedForm(odd!) as Buffer;
    const request = odd!.request as { headers: Record<string, string>; queryString: Record<string, string | string[]> };
    assert.equal(request.headers['X-Multi'], 'one, two');
    assert.equal(request.headers['X-Folded'], 'first second line');
    assert.deepEqual(request.queryString.q, 'café au lait');
    assert.equal(request.queryString['e=q'], '1');
    for (const t of ['one, two', 'first second line', 'caf', ' au lait', 'e=q', 'a b']) assert.equal(storedFormHas([t])(stored), true, t);
    assert.equal((odd!.response as { headers: Record<string, string> }).headers.Vary, 'Accept, Cookie');
    assert.equal(storedFormHas(['Accept, Cookie'])(stored), true);
  });

  test('a damaged split form is an error that says what is wrong, never a wrong entry', async () => {
    const base = await httpBase();
    const good = splitBytes(withBodies(base, 'd', undefined, { mimeType: 'text/plain', text: 'y'.repeat(2000) }))!;
    const expectError = (b: Buffer, re: RegExp): void => assert.throws(() => readSplit(b), (e: unknown) => e instanceof SplitFormError && e.code === 'store.damaged_entry' && re.test(e.message), re.source);
    expectError(good.subarray(0, good.length - 1), /runs to \d+, past the end/);
    expectError(good.subarray(0, 3), /no split form tag/);
    expectError(Buffer.concat([good, Buffer.from([0])]), /1 bytes after the last value/);
    const skeletonEnd = 5 + good.readUInt32LE(1);
    const badSlot = Buffer.from(good);
    badSlot[skeletonEnd + 1] = 14;
    expectError(badSlot, /unknown slot 14/);
    // An HTTP head's slot whose bytes are not a head.
    const notHead = Buffer.from(good);
    notHead[skeletonEnd + 1] = 13;
    expectError(notHead, /slot 13: not an HTTP response head as written/);
    // A DNS message's slot where the skeleton holds the record itself.
    const notNull = Buffer.from(good);
    notNull[skeletonEnd + 1] = 9;
    expectError(notNull, /slot 9: request is not null in the skeleton/);
    const noCount = good.subarray(0, skeletonEnd);
    expectError(noCount, /no value count/);
    const notObject = Buffer.from([SPLIT_TAG, 4, 0, 0, 0, ...Buffer.from('null'), 0]);
    expectError(notObject, /the skeleton is not an object/);
    // A slot whose body record the skeleton lacks.
    const wrongSide = Buffer.from(good);
    wrongSide[skeletonEnd + 1] = 1; // request.postData.text; this entry has no postData
    expectError(wrongSide, /slot 1: request\.postData is not in the skeleton/);
  });
});
