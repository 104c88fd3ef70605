/**
 * Deferred gzip bodies (ParserSettings.deferGzipBodies, what `tapline tap` uses) read back
 * exactly as the parser would have decoded them at once: the same entries, sizes, text,
 * marks and issues, after the same round trip through the stored form the store makes.
 * Oracle: the eager parser on the same bytes, on a real nginx capture and on synthetic
 * exchanges for every way a gzip body can end (whole, over the cap, chunked, corrupt, cut,
 * with a gap, a decompression bomb, incompressible data, a request body).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { readCaptureFile } from '../capture/index.js';
import { createPipeline } from '../pipeline/index.js';
import { drive, type Step } from '../protocols/http/test-support.js';
import { repoRoot } from '../../test/support/paths.js';
import type { Entry } from './entry.js';
import { hasDeferred, resolveDeferred } from './deferred.js';
import { withStore } from '../store/test-support.js';
import { storedForm } from '../store/schema.js';
import { readSplit } from '../store/split-form.js';

/** The store's round trip of an entry (storedForm), before resolveDeferred, which the tests call themselves. */
const roundTrip = <T>(x: T): T => {
  const stored = storedForm(x as unknown as Entry);
  return (typeof stored === 'string' ? JSON.parse(stored) : readSplit(stored)) as T;
};

/** Issues compared as sets: a body's decoding issues join the entry's list when it is read. */
function normalized(e: Record<string, unknown>): Record<string, unknown> {
  const issues = e.issues as string[] | undefined;
  return issues === undefined ? e : { ...e, issues: [...issues].sort() };
}

const GET = 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n';
const gzipHead = (length: number | 'chunked', type = 'application/json') =>
  `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nContent-Encoding: gzip\r\n${length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`}\r\n\r\n`;
const json = Buffer.from(JSON.stringify(Array.from({ length: 3000 }, (_, i) => ({ id: i, name: `item "${i}"`, ok: i % 3 === 0 }))));
const gz = zlib.gzipSync(json);
const noise = zlib.gzipSync(randomBytes(90_000));
const step = (dir: 0 | 1, data: string | Buffer): Step => ({ dir, data: Buffer.from(data) });
/** The body in pieces of `n` bytes, as segments bring it. */
function pieces(dir: 0 | 1, b: Buffer, n = 1400): Step[] {
  const out: Step[] = [];
  for (let i = 0; i < b.length; i += n) out.push({ dir, data: b.subarray(i, i + n) });
  return out;
}
function chunked(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += 5000) {
    const c = b.subarray(i, i + 5000);
    parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}
const corrupt = Buffer.from(gz);
corrupt[200] ^= 0xff;

/** `atOnce`: the body does not open with a gzip member header, so even a deferring parser decodes it at once. */
const CASES: { name: string; steps: Step[]; limits?: Record<string, number>; atOnce?: true }[] = [
  { name: 'a whole body', steps: [step(0, GET), step(1, gzipHead(gz.length)), ...pieces(1, gz)] },
  { name: 'chunked', steps: [step(0, GET), step(1, gzipHead('chunked')), ...pieces(1, chunked(gz))] },
  { name: 'corrupt inside the deflate data', steps: [step(0, GET), step(1, gzipHead(corrupt.length)), ...pieces(1, corrupt), step(0, GET), step(1, 'HTTP/1.1 204 No Content\r\n\r\n')] },
  { name: 'the stream ends early but the framing is whole', steps: [step(0, GET), step(1, gzipHead(gz.length - 40)), ...pieces(1, gz.subarray(0, gz.length - 40))] },
  { name: 'a gap inside the body', steps: [step(0, GET), step(1, gzipHead(gz.length)), step(1, gz.subarray(0, 3000)), { dir: 1, gap: 2000 }, step(1, gz.subarray(5000))] },
  { name: 'closed before the body ended', steps: [step(0, GET), step(1, gzipHead(gz.length)), ...pieces(1, gz.subarray(0, gz.length >> 1))] },
  { name: 'incompressible data', steps: [step(0, GET), step(1, gzipHead(noise.length, 'application/octet-stream')), ...pieces(1, noise)] },
  { name: 'a decompression bomb', steps: [step(0, GET), step(1, gzipHead(gz.length)), ...pieces(1, gz)], limits: { maxDecodedBytes: 5000 } },
  {
    name: 'a request body',
    steps: [step(0, `POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`), ...pieces(0, gz), step(1, 'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n')],
  },
  { name: 'plain text sent as gzip', steps: [step(0, GET), step(1, gzipHead(json.length)), ...pieces(1, json)], atOnce: true },
  { name: 'a gap where the body starts', steps: [step(0, GET), step(1, gzipHead(gz.length)), { dir: 1, gap: 1000 }, step(1, gz.subarray(1000))], atOnce: true },
  { name: 'an empty body', steps: [step(0, GET), step(1, gzipHead(0)), step(0, GET), step(1, gzipHead(gz.length)), ...pieces(1, gz)] },
  { name: 'reserved header flags set', steps: [step(0, GET), step(1, gzipHead(gz.length)), step(1, Buffer.from([0x1f, 0x8b, 8, 0x20])), ...pieces(1, gz.subarray(4))], atOnce: true },
];

describe('deferred gzip bodies read back as the parser decodes them at once', () => {
  for (const c of CASES) {
    for (const maxBodyText of [100, 4096, 65536, 1 << 20]) {
      test(`${c.name}, text cap ${maxBodyText}`, () => {
        const eager = drive(c.steps, { limits: c.limits, settings: { maxBodyText } });
        const deferred = drive(c.steps, { limits: c.limits, settings: { maxBodyText, deferGzipBodies: true } });
        assert.ok(eager.items.length > 0);
        assert.equal(deferred.items.length, eager.items.length);
        let withDeferred = 0;
        eager.items.forEach((item, i) => {
          const d = deferred.items[i]!;
          const entry = roundTrip({ request: d.request, response: d.response, issues: d.issues }) as unknown as Entry;
          if (hasDeferred(entry)) withDeferred++;
          const want = { request: item.request, response: item.response, issues: item.issues };
          assert.deepEqual(normalized(JSON.parse(JSON.stringify(resolveDeferred(entry)))), normalized(JSON.parse(JSON.stringify(want))), `exchange ${i}`);
        });
        assert.equal(withDeferred, c.atOnce ? 0 : 1, c.atOnce ? 'decoded at once' : 'one exchange had its gzip body deferred');
        // Found at once, counted at once: only what decoding finds past a good start waits for the reader.
        const later = (w: string) => w === 'http.bad_content_encoding' || w === 'http.decode_limit';
        assert.deepEqual(deferred.weirds, c.atOnce ? eager.weirds : eager.weirds.filter((w) => !later(w)));
        if (c.atOnce) assert.ok(eager.weirds.some(later) || eager.items.some((it) => it.issues?.includes('tcp.gap')), 'a case that shows something');
      });
    }
  }

  test('decoding waits until a property it sets is read', () => {
    const d = drive(CASES[0]!.steps, { settings: { deferGzipBodies: true } }).items[0]!;
    const entry = resolveDeferred(roundTrip({ request: d.request, response: d.response }) as unknown as Entry);
    const response = entry.response as Record<string, unknown>;
    const pending = () => Object.getOwnPropertyDescriptor(response, 'content')!.get !== undefined;
    assert.equal(response.status, 200);
    assert.equal((entry.request as Record<string, unknown>).method, 'GET');
    assert.equal(pending(), true, 'reading other fields decodes nothing');
    assert.equal(response.bodySize, json.length);
    assert.equal(pending(), false, 'reading bodySize decoded the body');
    const content = response.content as { text: string; truncated?: boolean };
    assert.equal(content.text, json.subarray(0, 65536).toString()); // the default text cap
    assert.equal(content.truncated, true);
    assert.equal(entry.issues, undefined);
  });

  test('stored bytes that are not gzip read as an undecodable body, never a throw', () => {
    const d = drive(CASES[0]!.steps, { settings: { deferGzipBodies: true } }).items[0]!;
    const entry = roundTrip({ request: d.request, response: d.response }) as unknown as Entry;
    const content = (entry.response as { content: { deferred: { bytes: Buffer; cap: number } } }).content;
    content.deferred.bytes = Buffer.from('not gzip at all, not even close');
    content.deferred.cap = -1; // nonsense a parser never writes
    resolveDeferred(entry);
    assert.deepEqual(entry.issues, ['http.bad_content_encoding']);
    assert.equal((entry.response as { content: { truncated: boolean } }).content.truncated, true);
  });

  test('a store keeps deferred entries compressed and reads them back decoded, by id and by KFL on the body', async () => {
    const file = join(repoRoot, 'src/protocols/http/fixtures/nginx.pcap');
    const collect = async (deferGzipBodies: boolean) => {
      const out: Entry[] = [];
      const p = createPipeline({ nodeName: 't', settings: { deferGzipBodies }, onEntry: (e) => out.push(e) });
      await readCaptureFile(file, p.push);
      p.finish();
      return out;
    };
    const eager = await collect(false);
    const deferred = await collect(true);
    assert.ok(deferred.some(hasDeferred));
    await withStore({ flushIntervalMs: 10 }, async (store) => {
      for (const e of deferred) store.add(e);
      await store.flush();
      for (const e of eager) assert.deepEqual(normalized(JSON.parse(JSON.stringify(store.get(e.id)))), normalized(JSON.parse(JSON.stringify(e))), e.id);
      const gz = eager.filter((e) => JSON.stringify(e.response?.headers ?? {}).includes('gzip') && ((e.response as { content?: { text?: string } }).content?.text ?? '').length > 20);
      assert.ok(gz.length > 0);
      const needle = (gz[0]!.response as { content: { text: string } }).content.text.slice(0, 20);
      const kfl = `response.content.text.contains(${JSON.stringify(needle)})`;
      assert.deepEqual(
        store.query({ kfl, limit: 100 }).entries.map((e) => e.id).sort(),
        eager.filter((e) => ((e.response as { content?: { text?: string } }).content?.text ?? '').includes(needle)).map((e) => e.id).sort(),
      );
    });
  });

  test('the entries of a real nginx capture (gzip on) are the same', async () => {
    const file = join(repoRoot, 'src/protocols/http/fixtures/nginx.pcap');
    const run = async (deferGzipBodies: boolean, maxBodyText: number) => {
      const out: Entry[] = [];
      const p = createPipeline({ nodeName: 't', settings: { maxBodyText, deferGzipBodies }, onEntry: (e) => out.push(e) });
      await readCaptureFile(file, p.push);
      p.finish();
      return out;
    };
    for (const maxBodyText of [64, 65536]) {
      const eager = await run(false, maxBodyText);
      const deferred = (await run(true, maxBodyText)).map(roundTrip);
      assert.ok(deferred.filter(hasDeferred).length >= 2, `${deferred.filter(hasDeferred).length} entries with a deferred body`);
      assert.deepEqual(deferred.map((e) => normalized(JSON.parse(JSON.stringify(resolveDeferred(e))))), eager.map((e) => normalized(JSON.parse(JSON.stringify(e)))));
    }
  });
});
