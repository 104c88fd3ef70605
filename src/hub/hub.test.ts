import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { corpusDir } from '../../test/support/paths.js';
import { createHub, redactTokenInUrl, startHub, type HubOptions } from './hub.js';
import { createMemoryEntrySource, createMemoryLive, createMemoryPcap, createMemoryStats } from './memory-sources.js';
import { createTapMetrics, hubMetricNames, tapMetricNames } from './metrics.js';
import { parsePromText } from './prom-text.js';
import { testEntry } from './test-entries.js';
import type { HubStatsSnapshot } from './types.js';

const TOKEN = 'test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
// 25 packets, 4884 bytes; tshark reads it cleanly (an oracle for the download's bytes).
const PCAP_FILE = join(corpusDir, 'nhrp.pcapng');

const SNAPSHOT: HubStatsSnapshot = {
  packets: 1234,
  bytes: 567890,
  drops: { kernel: 3, interface: 1, tapline: 2 },
  flows: 17,
  entries: 40,
  entriesByProtocol: { http: 30, dns: 10 },
};

function makeHub(over: Partial<HubOptions> = {}) {
  const entries = createMemoryEntrySource();
  const live = createMemoryLive();
  const pcapBytes = readFileSync(PCAP_FILE);
  const pcap = createMemoryPcap(pcapBytes, 25, { chunk: 1000, badFilter: 'tcp port nope' });
  const registry = new Registry();
  const app = createHub({ entries, pcap, live, stats: createMemoryStats(SNAPSHOT), token: TOKEN, metrics: registry, ...over });
  return { app, entries, live, pcap, pcapBytes, registry };
}

describe('auth', () => {
  test('/healthz answers without a token', async () => {
    const { app } = makeHub();
    const res = await app.inject({ url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { ok: true });
  });

  const id = encodeURIComponent(testEntry(1).id);
  const routes = ['/api/entries', `/api/entries/${id}`, '/api/stats', '/metrics', '/api/pcap?from=0&to=10'];
  for (const url of routes) {
    test(`${url}: 401 without a token or with a wrong one, 200 with the header or ?token=`, async () => {
      const { app, entries } = makeHub();
      entries.add(testEntry(1));
      const none = await app.inject({ url });
      assert.equal(none.statusCode, 401);
      assert.equal(none.json().error.code, 'api.unauthorized');
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="tapline"');

      const wrong = await app.inject({ url, headers: { authorization: `Bearer ${TOKEN}x` } });
      assert.equal(wrong.statusCode, 401);
      assert.deepEqual(wrong.json(), { error: { code: 'api.unauthorized', message: 'the token is not right' } });

      // A token that is a prefix of the right one is not the right one.
      const prefix = await app.inject({ url, headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}` } });
      assert.equal(prefix.statusCode, 401);

      const header = await app.inject({ url, headers: auth });
      assert.equal(header.statusCode, 200, header.body.slice(0, 200));
      // RFC 7235 §2.1: the scheme name is case-insensitive.
      const lower = await app.inject({ url, headers: { authorization: `bearer ${TOKEN}` } });
      assert.equal(lower.statusCode, 200);

      const query = await app.inject({ url: url + (url.includes('?') ? '&' : '?') + 'token=' + TOKEN });
      assert.equal(query.statusCode, 200, query.body.slice(0, 200));
    });
  }

  test('an unknown route needs the token too (no route map for strangers), then 404', async () => {
    const { app } = makeHub();
    assert.equal((await app.inject({ url: '/api/nothing' })).statusCode, 401);
    const res = await app.inject({ url: '/api/nothing?x=1', headers: auth });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { error: { code: 'api.not_found', message: 'no route GET /api/nothing' } });
  });

  test('the token in a logged URL is cut out', () => {
    assert.equal(redactTokenInUrl('/api/pcap?kfl=dns&token=abc&from=1'), '/api/pcap?kfl=dns&token=[REDACTED]&from=1');
    assert.equal(redactTokenInUrl('/api/stream?token=abc'), '/api/stream?token=[REDACTED]');
  });
});

describe('errors', () => {
  test('a bad KFL query gets 400 api.bad_kfl with the exact span', async () => {
    const { app } = makeHub();
    const res = await app.inject({ url: '/api/entries?kfl=' + encodeURIComponent('http and'), headers: auth });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), {
      error: {
        code: 'api.bad_kfl',
        message: "expected a value after 'and', found the end of the query",
        param: 'kfl',
        span: { start: 8, end: 8, line: 1, column: 9 },
        kflCode: 'kfl.expected_value',
      },
    });
    const fn = await app.inject({ url: '/api/entries?kfl=' + encodeURIComponent('http and foo(1)'), headers: auth });
    assert.equal(fn.statusCode, 400);
    assert.deepEqual(fn.json().error.span, { start: 9, end: 12, line: 1, column: 10 });
    assert.equal(fn.json().error.kflCode, 'kfl.unknown_function');
  });

  const badParams: [string, string][] = [
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=2.5', 'limit'],
    ['from=yesterday', 'from'],
    ['to=-1', 'to'],
    ['order=up', 'order'],
    ['cursor=', 'cursor'],
    ['colour=red', 'colour'],
    ['kfl=http&kfl=dns', 'kfl'],
    ['from=20&to=10', 'from'],
    ['cursor=bm90LWEtY3Vyc29y', 'cursor'],
  ];
  for (const [qs, param] of badParams) {
    test(`/api/entries?${qs} → 400 api.bad_param naming '${param}'`, async () => {
      const { app } = makeHub();
      const res = await app.inject({ url: '/api/entries?' + qs, headers: auth });
      assert.equal(res.statusCode, 400);
      const { error } = res.json();
      assert.equal(error.code, 'api.bad_param');
      assert.equal(error.param, param);
      assert.ok(error.message.includes(param), error.message);
    });
  }

  test('a fault inside a source is 500 api.internal and its text is not shown', async () => {
    const { app } = makeHub({
      entries: {
        query: () => {
          throw new Error('disk I/O error at /secret/path');
        },
        get: () => undefined,
        stats: () => ({ entries: 0, bytes: 0 }),
      },
    });
    const res = await app.inject({ url: '/api/entries', headers: auth });
    assert.equal(res.statusCode, 500);
    assert.deepEqual(res.json(), { error: { code: 'api.internal', message: 'internal error' } });
  });

  test('bad configuration fails at creation with a coded error', () => {
    assert.throws(() => makeHub({ token: '' }), { code: 'hub.bad_token' });
    assert.throws(() => makeHub({ token: 'a b' }), { code: 'hub.bad_token' });
    assert.throws(() => makeHub({ limits: { maxPageSize: 0 } }), { code: 'hub.bad_limit' });
    assert.throws(() => makeHub({ limits: { defaultPageSize: 50, maxPageSize: 10 } }), { code: 'hub.bad_limit' });
    assert.throws(() => makeHub({ limits: { stream: { maxQueued: 1.5 } } }), { code: 'hub.bad_limit' });
  });

  test('listening on a port already taken is hub.listen_failed naming the address', async () => {
    const a = makeHub().app;
    const { port } = await startHub(a, { host: '127.0.0.1', port: 0 });
    const b = makeHub().app;
    try {
      await assert.rejects(startHub(b, { host: '127.0.0.1', port }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'hub.listen_failed');
        assert.ok(err.message.includes(`127.0.0.1:${port}`) && err.message.includes('EADDRINUSE'), err.message);
        return true;
      });
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('entries', () => {
  test('pages through /api/entries stably while entries are added between requests', async () => {
    const { app, entries } = makeHub();
    const first = Array.from({ length: 10 }, (_, n) => testEntry(n * 10));
    entries.add(...first);
    const seen: string[] = [];
    let cursor: string | null = null;
    let n = 1;
    for (let page = 0; page < 100; page++) {
      const url: string = '/api/entries?limit=3' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
      const res = await app.inject({ url, headers: auth });
      assert.equal(res.statusCode, 200);
      const body = res.json() as { entries: { id: string }[]; cursor: string | null };
      assert.ok(body.entries.length <= 3);
      seen.push(...body.entries.map((e) => e.id));
      cursor = body.cursor;
      if (cursor === null) break;
      // Newer than everything (not in this walk, which is newest first), and in the gaps.
      entries.add(testEntry(10_000 + page), testEntry(n));
      n += 10;
    }
    assert.equal(cursor, null);
    assert.equal(new Set(seen).size, seen.length, 'no entry twice');
    for (const e of first) assert.ok(seen.includes(e.id), `${e.id} skipped`);
    // Newest first: the 10 stored ones in descending order, with the gap fillers added as they were passed.
    const stored = seen.map((id) => entries.get(id)!.timestamp);
    assert.deepEqual(stored, [...stored].sort((a, b) => b - a));
    assert.equal(seen[0], first[9].id);
  });

  test('kfl, from, to and order reach the source and select the entries', async () => {
    const { app, entries } = makeHub();
    const all = Array.from({ length: 12 }, (_, n) => testEntry(n, { status: n % 2 === 0 ? 500 : 200 }));
    entries.add(...all);
    const qs = new URLSearchParams({ kfl: 'response.status == 500', from: String(all[2].timestamp), to: String(all[9].timestamp), order: 'asc' });
    const res = await app.inject({ url: '/api/entries?' + qs, headers: auth });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { entries: [all[2], all[4], all[6], all[8]], cursor: null });
  });

  test('default page size and order: newest 100 first', async () => {
    const { app, entries } = makeHub();
    entries.add(...Array.from({ length: 150 }, (_, n) => testEntry(n)));
    const body = (await app.inject({ url: '/api/entries', headers: auth })).json();
    assert.equal(body.entries.length, 100);
    assert.equal(body.entries[0].id, testEntry(149).id);
    assert.equal(typeof body.cursor, 'string');
  });

  test('one entry by id, with its slash sent raw or as %2F; 404 otherwise', async () => {
    const { app, entries } = makeHub();
    const e = testEntry(123, { protocol: 'dns' });
    entries.add(e);
    for (const url of [`/api/entries/${e.id}`, `/api/entries/${encodeURIComponent(e.id)}`]) {
      const res = await app.inject({ url, headers: auth });
      assert.equal(res.statusCode, 200, url);
      assert.deepEqual(res.json(), e);
    }
    // Kubernetes node names run to 253 characters (RFC 1123 subdomains).
    const long = testEntry(7, { node: 'n'.repeat(253) });
    entries.add(long);
    const longRes = await app.inject({ url: `/api/entries/${encodeURIComponent(long.id)}`, headers: auth });
    assert.equal(longRes.statusCode, 200);
    assert.equal(longRes.json().id, long.id);

    const missing = await app.inject({ url: '/api/entries/node-a%2F000000000999-0', headers: auth });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.json(), { error: { code: 'api.not_found', message: "no entry with id 'node-a/000000000999-0'" } });
  });
});

describe('stats and metrics', () => {
  test('/api/stats is the snapshot, the store stats and the stream counters', async () => {
    const { app, entries } = makeHub();
    entries.add(testEntry(1), testEntry(5));
    const res = await app.inject({ url: '/api/stats', headers: auth });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(body, {
      ...SNAPSHOT,
      store: { entries: 2, bytes: body.store.bytes, oldest: testEntry(1).timestamp, newest: testEntry(5).timestamp },
      stream: { clients: 0, dropped: 0 },
    });
    assert.equal(body.store.bytes, JSON.stringify(testEntry(1)).length + JSON.stringify(testEntry(5)).length);
  });

  test('/metrics is valid Prometheus text with every tap and hub metric, values from the totals', async () => {
    const { app, registry } = makeHub();
    let packets = 100;
    createTapMetrics(registry, {
      totals: () => ({
        ...SNAPSHOT,
        packets,
        flowsSeen: 40,
        tcpGaps: 5,
        tcpGapBytes: 7000,
        reassemblyHeldBytes: 4096,
        reassemblyLimitHits: { oooFlow: 2 },
        issues: { 'http.header_too_long': 3, 'tcp.gap': 5 },
        store: { entries: 40, bytes: 81920, evicted: 6, pending: 12, pendingBytes: 90000, dropped: 4, failed: 1 },
        ring: { bytes: 1 << 20, segments: 3, packets: 1200 },
      }),
    });
    await app.inject({ url: '/healthz' });
    const res = await app.inject({ url: '/metrics', headers: auth });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    const fams = parsePromText(res.body);
    for (const name of [...tapMetricNames, ...hubMetricNames]) assert.ok(fams.has(name), `${name} missing`);
    const value = (name: string, labels: Record<string, string> = {}) =>
      fams.get(name)!.samples.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
    assert.equal(fams.get('tapline_packets_total')!.type, 'counter');
    assert.equal(fams.get('tapline_flows_active')!.type, 'gauge');
    assert.equal(value('tapline_packets_total'), 100);
    assert.equal(value('tapline_drops_total', { source: 'kernel' }), 3);
    assert.equal(value('tapline_drops_total', { source: 'interface' }), 1);
    assert.equal(value('tapline_drops_total', { source: 'tapline' }), 2);
    assert.equal(value('tapline_flows_active'), 17);
    assert.equal(value('tapline_entries_total', { protocol: 'http' }), 30);
    assert.equal(value('tapline_entries_total', { protocol: 'dns' }), 10);
    assert.equal(value('tapline_issues_total', { code: 'http.header_too_long' }), 3);
    assert.equal(value('tapline_reassembly_limit_hits_total', { limit: 'oooFlow' }), 2);
    assert.equal(value('tapline_tcp_gaps_total'), 5);
    assert.equal(value('tapline_store_entries'), 40);
    assert.equal(value('tapline_store_evicted_total'), 6);
    assert.equal(value('tapline_store_pending_entries'), 12);
    assert.equal(value('tapline_store_pending_bytes'), 90000);
    assert.equal(value('tapline_store_lost_total', { reason: 'queue_full' }), 4);
    assert.equal(value('tapline_store_lost_total', { reason: 'write_failed' }), 1);
    assert.equal(value('tapline_ring_segments'), 3);
    assert.equal(value('tapline_api_requests_total', { route: '/healthz', status: '200' }), 1);

    // Counters follow the totals from scrape to scrape.
    packets = 250;
    const again = parsePromText((await app.inject({ url: '/metrics', headers: auth })).body);
    assert.equal(again.get('tapline_packets_total')!.samples[0].value, 250);
  });
});

describe('pcap download', () => {
  test('streams the ring\'s PCAPNG with its content type and file name; tshark reads it', async () => {
    const { app, pcap, pcapBytes } = makeHub();
    const qs = new URLSearchParams({ kfl: 'http and response.status == 500', filter: 'tcp port 80', from: '1700000000000', to: '1700000060000' });
    const res = await app.inject({ url: '/api/pcap?' + qs, headers: auth });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/vnd.tcpdump.pcapng');
    assert.equal(res.headers['content-disposition'], 'attachment; filename="tapline-20231114T221320Z-20231114T221420Z.pcapng"');
    assert.deepEqual(res.rawPayload, pcapBytes);
    assert.deepEqual(pcap.requests, [{ kfl: 'http and response.status == 500', filter: 'tcp port 80', from: 1_700_000_000_000, to: 1_700_000_060_000 }]);

    const dir = mkdtempSync(join(tmpdir(), 'hub-pcap-'));
    try {
      const file = join(dir, 'download.pcapng');
      writeFileSync(file, res.rawPayload);
      const tshark = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
      assert.equal(tshark.status, 0, tshark.stderr);
      assert.equal(tshark.stdout.trim().split('\n').length, 25);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a bad KFL or capture filter is a 400 before any byte', async () => {
    const { app } = makeHub();
    const kfl = await app.inject({ url: '/api/pcap?kfl=' + encodeURIComponent('dns and (') + '&from=0&to=1', headers: auth });
    assert.equal(kfl.statusCode, 400);
    assert.equal(kfl.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(kfl.json().error.code, 'api.bad_kfl');
    assert.deepEqual(kfl.json().error.span, { start: 9, end: 9, line: 1, column: 10 });

    const filter = await app.inject({ url: '/api/pcap?filter=' + encodeURIComponent('tcp port nope'), headers: auth });
    assert.equal(filter.statusCode, 400);
    assert.deepEqual(filter.json(), { error: { code: 'api.bad_filter', message: 'syntax error in filter expression: tcp port nope', param: 'filter' } });
  });

  test('a failure after the first byte cuts the download short: the client never sees a complete file', async () => {
    const { app } = makeHub({
      pcap: {
        async exportPcap(_req, out) {
          out.write(Buffer.alloc(1000, 0x0a));
          await new Promise((resolve) => setImmediate(resolve));
          throw new Error('segment file vanished');
        },
      },
    });
    const { url } = await startHub(app, { host: '127.0.0.1', port: 0 });
    try {
      const outcome = await new Promise<{ status?: number; complete: boolean; error?: string }>((resolve) => {
        request(url + '/api/pcap?token=' + TOKEN, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode, complete: res.complete }));
          res.on('error', (err) => resolve({ status: res.statusCode, complete: res.complete, error: err.message }));
        }).end();
      });
      // Chunked encoding without its last chunk: HTTP says the body is incomplete.
      assert.deepEqual(outcome, { status: 200, complete: false, error: 'aborted' });
    } finally {
      await app.close();
    }
  });

  test('no window: from 0 to now (all the ring holds)', async () => {
    const { app, pcap } = makeHub();
    const before = Date.now();
    const res = await app.inject({ url: '/api/pcap', headers: auth });
    assert.equal(res.statusCode, 200);
    const req = pcap.requests[0];
    assert.equal(req.from, 0);
    assert.ok(req.to >= before && req.to <= Date.now());
    assert.equal('kfl' in req, false);
  });
});
