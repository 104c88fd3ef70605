/**
 * Real traffic: fixtures/nginx.pcap was recorded by fixtures/record-nginx.sh (nginx with
 * gzip on, curl over loopback). The TCP payloads are taken out with tshark and fed to the
 * parser; every fact is compared with what tshark's own HTTP dissector reports.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { repoRoot } from '../../../test/support/paths.js';
import { tsharkMissing } from '../../../test/support/tshark.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ParsedItem } from '../types.js';
import { drive, plain, type Step } from './test-support.js';

const PCAP = join(repoRoot, 'src/protocols/http/fixtures', 'nginx.pcap');

function tshark(args: string[]): string {
  return execFileSync('tshark', ['-r', PCAP, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
}

const noTshark = tsharkMissing() ?? false;

interface Segment {
  stream: number;
  dir: 0 | 1;
  sec: number;
  nsec: number;
  data: Buffer;
}

function time(epoch: string): [number, number] {
  const [s, f = ''] = epoch.split('.');
  return [Number(s), Number(f.padEnd(9, '0').slice(0, 9))];
}

/** TCP payloads in capture order, with direction (0 = from the client that sent the SYN). */
function segments(): Segment[] {
  const serverPort = new Map<number, number>();
  for (const line of tshark(['-Y', 'tcp.flags.syn==1 && tcp.flags.ack==0', '-T', 'fields', '-e', 'tcp.stream', '-e', 'tcp.dstport']).trim().split('\n')) {
    const [stream, port] = line.split('\t');
    serverPort.set(Number(stream), Number(port));
  }
  const out: Segment[] = [];
  const rows = tshark(['-Y', 'tcp.len>0', '-T', 'fields', '-e', 'tcp.stream', '-e', 'tcp.dstport', '-e', 'frame.time_epoch', '-e', 'tcp.payload']);
  for (const line of rows.trim().split('\n')) {
    const [stream, dport, epoch, hex] = line.split('\t');
    const [sec, nsec] = time(epoch);
    out.push({ stream: Number(stream), dir: Number(dport) === serverPort.get(Number(stream)) ? 0 : 1, sec, nsec, data: Buffer.from(hex.replace(/:/g, ''), 'hex') });
  }
  return out;
}

interface Oracle {
  stream: number;
  time: [number, number];
  method?: string;
  uri?: string;
  host?: string;
  code?: number;
  body?: string;
}

/** tshark's HTTP messages (requests and responses, interim ones included) in capture order. */
function oracle(): Oracle[] {
  const json = JSON.parse(
    tshark(['-Y', 'http', '-T', 'json', '-e', 'tcp.stream', '-e', 'frame.time_epoch', '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.host', '-e', 'http.response.code', '-e', 'http.file_data']),
  ) as { _source: { layers: Record<string, string[]> } }[];
  return json.map(({ _source: { layers: l } }) => ({
    stream: Number(l['tcp.stream'][0]),
    time: time(l['frame.time_epoch'][0]),
    method: l['http.request.method']?.[0],
    uri: l['http.request.uri']?.[0],
    host: l['http.host']?.[0],
    code: l['http.response.code'] ? Number(l['http.response.code'][0]) : undefined,
    body: l['http.file_data']?.[0],
  }));
}

function itemsOf(segs: Segment[], stream: number, steps?: Step[]): ParsedItem[] {
  const chosen = steps ?? segs.filter((s) => s.stream === stream).map((s) => ({ dir: s.dir, data: s.data, sec: s.sec, nsec: s.nsec }));
  const r = drive(chosen);
  assert.deepEqual(r.violations, [], `stream ${stream}`);
  assert.deepEqual(r.weirds, [], `stream ${stream}`);
  return r.items;
}

type Req = { method: string; url: string; host: string; bodySize: number; postData?: { text: string } };
type Resp = { status: number; bodySize: number; content: { text: string; size: number; encoding?: string; truncated?: boolean } };

describe('http parser on real nginx + curl traffic', { skip: noTshark }, () => {
  const segs = noTshark ? [] : segments();
  const facts = noTshark ? [] : oracle();
  const streams = [...new Set(segs.map((s) => s.stream))];

  test('the fixture holds what the recording script made', () => {
    assert.deepEqual(streams, [0, 1, 2, 3, 4]);
    // tshark saw the interim 100 Continue; the parser must skip it.
    assert.ok(facts.some((f) => f.stream === 3 && f.code === 100));
  });

  for (const stream of [0, 1, 2, 3, 4]) {
    test(`stream ${stream}: requests, hosts, statuses and bodies agree with tshark`, () => {
      const items = itemsOf(segs, stream);
      const reqs = facts.filter((f) => f.stream === stream && f.method !== undefined);
      const resps = facts.filter((f) => f.stream === stream && f.code !== undefined && (f.code < 100 || f.code >= 200));
      assert.equal(items.length, reqs.length);
      assert.equal(items.length, resps.length);
      items.forEach((item, i) => {
        const req = item.request as Req;
        const resp = item.response as Resp;
        assert.equal(item.error, undefined);
        assert.deepEqual([req.method, req.url, req.host], [reqs[i].method, reqs[i].uri, reqs[i].host]);
        assert.equal(resp.status, resps[i].code);
        // tshark reports a reassembled response at its last segment.
        assert.deepEqual([item.endSec, item.endNsec], resps[i].time, `response ${i} end time`);
        if (req.method === 'POST') assert.equal(req.postData?.text, reqs[i].body);
        const body = resps[i].body ?? '';
        if (resp.content.encoding === 'base64') return; // compared byte for byte below
        assert.equal(resp.content.size, Buffer.byteLength(body), `response ${i} size`);
        assert.equal(resp.bodySize, Buffer.byteLength(body));
        assert.equal(resp.content.text, resp.content.truncated ? body.slice(0, 64 * 1024) : body, `response ${i} text`);
      });
    });

    test(`stream ${stream}: request and response sizes add up to the TCP payload of each direction`, () => {
      const items = itemsOf(segs, stream);
      const wire = [0, 0];
      for (const s of segs) if (s.stream === stream) wire[s.dir] += s.data.length;
      assert.deepEqual(
        [items.reduce((n, i) => n + i.requestSize, 0), items.reduce((n, i) => n + i.responseSize, 0)],
        wire,
      );
    });

    test(`stream ${stream}: one byte per chunk gives the same items`, () => {
      const whole = itemsOf(segs, stream);
      const bytewise: Step[] = [];
      for (const s of segs) {
        if (s.stream !== stream) continue;
        for (let k = 0; k < s.data.length; k++) bytewise.push({ dir: s.dir, data: s.data.subarray(k, k + 1), sec: s.sec, nsec: s.nsec });
      }
      assert.deepEqual(plain(itemsOf(segs, stream, bytewise)), plain(whole));
    });
  }

  test('keep-alive stream 0: gzip+chunked decoded, 404 page, binary as base64, query decoded', () => {
    const items = itemsOf(segs, 0);
    const resp = items.map((i) => i.response as Resp);
    const reqs = items.map((i) => i.request as Req & { queryString: unknown });
    assert.deepEqual(resp.map((r) => r.status), [200, 200, 404, 200, 200]);
    assert.deepEqual(reqs[4].queryString, { q: ['a b', 'c'] });
    // big.txt: 165000 bytes gzip-compressed and chunked; the text is cut at 64 KiB.
    assert.equal(resp[1].content.size, 165_000);
    assert.equal(resp[1].content.truncated, true);
    assert.equal(resp[1].content.text.length, 64 * 1024);
    assert.ok(resp[1].content.text.startsWith('line 00000 the quick brown fox jumps over the lazy dog\nline 00001 '));
    // The binary body, byte for byte against tshark's exported object.
    const dir = mkdtempSync(join(tmpdir(), 'tapline-http-'));
    try {
      tshark(['-q', '--export-objects', `http,${dir}`]);
      const blob = readFileSync(join(dir, 'blob.bin'));
      assert.deepEqual(resp[3].content, { mimeType: 'application/octet-stream', size: blob.length, text: blob.toString('base64'), encoding: 'base64' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('stream 1: HEAD has no body although Content-Length says 165000', () => {
    const [item] = itemsOf(segs, 1);
    const resp = item.response as Resp & { headers: Record<string, string> };
    assert.equal(resp.headers['Content-Length'], '165000');
    assert.deepEqual([resp.bodySize, resp.content.size, resp.content.text], [0, 0, '']);
  });

  test('stream 2: form POST with cookies', () => {
    const [item] = itemsOf(segs, 2);
    const req = item.request as Req & { cookies: unknown; postData: unknown };
    assert.deepEqual(req.cookies, { sid: 'abc', theme: 'dark' });
    assert.deepEqual(req.postData, { mimeType: 'application/x-www-form-urlencoded', text: 'name=tapline&x=1' });
    assert.equal((item.response as Resp).status, 201);
  });

  test('stream 4: HTTP/1.0 request, protocol version 1.0', () => {
    const [item] = itemsOf(segs, 4);
    assert.deepEqual(item.protocol, { name: 'http', version: '1.0', abbr: 'HTTP', layer4: 'tcp' });
  });
});
