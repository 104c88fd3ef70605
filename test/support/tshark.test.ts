// Checks the recorder and the oracle together against ground truth: the test
// knows every request curl made and every question dig asked, and what the
// servers were configured to answer, so tshark must report exactly that.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { netnsUnavailableReason, recordScenario, nginxResources, dnsRecords, type HttpRequestSpec, type RecordedScenario, type DnsRecord } from './netns.js';
import { tsharkHttp, tsharkDns, tsharkMissing, type TsharkHttp, type TsharkDns } from './tshark.js';

const skip = netnsUnavailableReason() ?? tsharkMissing() ?? false;
const T = { timeout: 180_000 };

const IMS_FUTURE = 'Fri, 01 Jan 2100 00:00:00 GMT';
const ECHO_BODY = 'x'.repeat(5000) + '\n';
const ORDER_BODY = '{"sku":"SKU-00042","qty":3}';

/** What a record set answers for (name, type): direct records, else a CNAME and what its target answers. */
function expectedAnswers(records: DnsRecord[], name: string, type: string): string[] {
  const direct = records.filter((r) => r.name === name && r.type === type).map((r) => `${r.type} ${r.data}`);
  if (direct.length > 0) return direct;
  const alias = records.find((r) => r.name === name && r.type === 'CNAME');
  return alias ? [`CNAME ${alias.data}`, ...expectedAnswers(records, alias.data, type)] : [];
}

describe('tshark oracle on a fresh recording', { skip }, () => {
  let rec: RecordedScenario;
  let http: TsharkHttp;
  let dns: TsharkDns;
  let plain: HttpRequestSpec[];
  let mixed: HttpRequestSpec[];
  let udpQuestions: { name: string; type: string }[];
  let tcpQuestions: { name: string; type: string }[];

  before(async () => {
    const resources = nginxResources();
    const zone = dnsRecords();
    plain = resources.map((r) => ({ path: r.path }));
    mixed = [
      ...resources.filter((r) => r.gzip && r.status === 200 && (r.bodyLength ?? 0) >= 1024) /* gzip only shrinks bodies of some size */.map((r) => ({ path: r.path, compressed: true })),
      { path: '/html/index.html', method: 'HEAD' },
      { path: '/files/size-1m.bin', method: 'HEAD' },
      { path: '/api/orders', method: 'POST', body: ORDER_BODY, headers: { 'Content-Type': 'application/json' } },
      { path: '/echo', method: 'POST', body: ECHO_BODY },
      { path: '/json/small.json', headers: { 'If-Modified-Since': IMS_FUTURE } },
      { path: '/api/orders', method: 'DELETE' },
      { path: '/json/orders.json?page=2&sort=desc', compressed: true },
    ];
    udpQuestions = [
      ...zone.records.map((r) => ({ name: r.name, type: r.type })),
      { name: 'www.example.test', type: 'A' },
      { name: 'api.shop.svc.cluster.local', type: 'A' },
      ...zone.missingNames.map((name) => ({ name, type: 'A' })),
    ];
    tcpQuestions = [
      { name: 'redis.data.svc.cluster.local', type: 'A' },
      { name: '_http._tcp.cart.shop.svc.cluster.local', type: 'SRV' },
      { name: 'example.test', type: 'TXT' },
      { name: 'missing.example.test', type: 'AAAA' },
    ];
    rec = await recordScenario('oracle', [
      { kind: 'http', requests: plain },
      { kind: 'http', requests: mixed },
      { kind: 'dns', queries: udpQuestions },
      { kind: 'dns', queries: tcpQuestions, tcp: true },
    ]);
    http = await tsharkHttp(rec.file);
    dns = await tsharkDns(rec.file);
  });
  after(() => rec?.remove());

  test('the recording is complete', () => {
    assert.equal(rec.capture.droppedByKernel, 0);
    assert.equal(rec.capture.captured, rec.capture.receivedByFilter);
  });

  test('tshark sees exactly the requests curl sent, in order, with method, URI and Host', () => {
    const sent = [...plain, ...mixed].map((r) => `${r.method ?? 'GET'} ${r.path}`);
    assert.deepEqual(
      http.requests.map((r) => `${r.method} ${r.uri}`),
      sent,
    );
    for (const r of http.requests) assert.equal(r.host, `${rec.serverIp}:${rec.httpPort}`);
    const post = http.requests.find((r) => r.method === 'POST' && r.uri === '/echo')!;
    assert.equal(post.bodyLength, ECHO_BODY.length);
    assert.equal(post.contentLength, ECHO_BODY.length);
  });

  test('every response answers its request with the status curl got', () => {
    const transfers = rec.transfers.flat();
    assert.equal(http.responses.length, transfers.length);
    const byFrame = new Map(http.requests.map((r, i) => [r.frame, i]));
    http.responses.forEach((resp, i) => {
      assert.equal(byFrame.get(resp.requestFrame!), i, `response ${i} answers request ${i}`);
      assert.equal(resp.status, transfers[i]!.status, transfers[i]!.url);
    });
  });

  test('body lengths are the decoded lengths: de-chunked and decompressed', () => {
    const transfers = rec.transfers.flat();
    const sent = [...plain, ...mixed];
    const resources = new Map(rec.nginx.resources.map((r) => [r.path, r]));
    sent.forEach((req, i) => {
      const resp = http.responses[i]!;
      const res = resources.get(req.path.split('?')[0]!);
      const what = `${req.method ?? 'GET'} ${req.path}`;
      if (req.method === 'HEAD') {
        assert.equal(resp.bodyLength, 0, what);
        assert.equal(resp.contentLength, res!.bodyLength, what);
      } else if (req.compressed) {
        assert.equal(resp.contentEncoding, 'gzip', what);
        assert.equal(resp.transferEncoding, 'chunked', what);
        assert.equal(resp.bodyLength, res!.bodyLength, what);
        assert.ok(transfers[i]!.bytesDownloaded < res!.bodyLength!, `${what} came compressed`);
      } else {
        // Without --compressed curl's byte count is the decoded body too.
        assert.equal(resp.bodyLength, transfers[i]!.bytesDownloaded, what);
        if (res && res.bodyLength !== null && resp.status !== 304) assert.equal(resp.bodyLength, res.bodyLength, what);
      }
    });
    const chunked = http.responses[plain.findIndex((r) => r.path === '/chunked/report.html')]!;
    assert.equal(chunked.transferEncoding, 'chunked');
    assert.equal(chunked.contentEncoding, null);
    const big = http.responses[plain.findIndex((r) => r.path === '/files/size-5m.bin')]!;
    assert.equal(big.bodyLength, 5 << 20);
    assert.equal(big.contentLength, 5 << 20);
    const notModified = http.responses[plain.length + mixed.findIndex((r) => r.headers?.['If-Modified-Since'])]!;
    assert.equal(notModified.status, 304);
    assert.equal(notModified.bodyLength, 0);
  });

  test('one TCP stream per connection curl opened', () => {
    const connects = rec.transfers.flat().reduce((n, t) => n + t.connects, 0);
    const streams = new Set([...http.requests, ...http.responses].map((m) => m.stream));
    assert.equal(streams.size, connects);
    // Keep-alive: the first request and the 1 MiB file share a connection.
    const idx = plain.findIndex((r) => r.path === '/files/size-1m.bin');
    assert.equal(http.requests[idx]!.stream, http.requests[0]!.stream);
  });

  test('tshark sees each dig question once as a query and once as a response, over UDP and TCP', () => {
    const asked = [...udpQuestions.map((q) => ({ ...q, t: 'udp' })), ...tcpQuestions.map((q) => ({ ...q, t: 'tcp' }))];
    const queries = dns.messages.filter((m) => !m.isResponse);
    const responses = dns.messages.filter((m) => m.isResponse);
    assert.deepEqual(
      queries.map((m) => `${m.transport} ${m.qname} ${m.qtype}`),
      asked.map((q) => `${q.t} ${q.name} ${q.type}`),
    );
    assert.deepEqual(
      responses.map((m) => `${m.transport} ${m.qname} ${m.qtype}`),
      asked.map((q) => `${q.t} ${q.name} ${q.type}`),
    );
    queries.forEach((q, i) => assert.equal(responses[i]!.id, q.id, `${q.qname}: response id matches query id`));
    for (const q of queries) assert.deepEqual(q.answers, []);
  });

  test('DNS answers and rcodes are what dnsmasq was configured with', () => {
    const missing = new Set(rec.dns.missingNames);
    for (const m of dns.messages.filter((x) => x.isResponse)) {
      const what = `${m.qname} ${m.qtype}`;
      if (missing.has(m.qname)) {
        assert.equal(m.rcode, 'NXDOMAIN', what);
        assert.deepEqual(m.answers, [], what);
        continue;
      }
      assert.equal(m.rcode, 'NOERROR', what);
      assert.deepEqual([...m.answers].sort(), expectedAnswers(rec.dns.records, m.qname, m.qtype).sort(), what);
      for (const r of m.answerRecords) assert.equal(r.ttl, rec.dns.ttl, what);
    }
    const srv = dns.messages.find((m) => m.isResponse && m.qtype === 'SRV')!;
    assert.deepEqual(srv.answerRecords, [{ name: '_http._tcp.cart.shop.svc.cluster.local', type: 'SRV', ttl: rec.dns.ttl, data: '0 5 8080 cart.shop.svc.cluster.local' }]);
    const redis = dns.messages.find((m) => m.isResponse && m.qname === 'redis.data.svc.cluster.local')!;
    assert.equal(redis.answers.length, 3);
  });
});

describe('tshark oracle: HTTP on a port of our choosing', { skip }, () => {
  test('is dissected when named in httpPorts (-d tcp.port==N,http)', T, async () => {
    const rec = await recordScenario('port', [{ kind: 'http', requests: [{ path: '/json/small.json' }, { path: '/status/404' }] }], { httpPort: 18123 });
    after(() => rec.remove());
    const found = await tsharkHttp(rec.file, { httpPorts: [18123] });
    assert.deepEqual(found.requests.map((r) => r.uri), ['/json/small.json', '/status/404']);
    assert.deepEqual(found.responses.map((r) => [r.status, r.bodyLength]), [[200, nginxResources().find((r) => r.path === '/json/small.json')!.bodyLength], [404, 153]]);
  });
});
