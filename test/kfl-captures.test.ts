/**
 * The KFL issue's example queries, run by the real `tapline read FILE --kfl QUERY` over a
 * capture this test records: curl against nginx (statuses 200/201/204/302/404/500/503, JSON
 * bodies, query strings, custom headers) and dig against dnsmasq (names in and out of
 * `.cluster.local`, over UDP and TCP), a pause, then a few more of each.
 *
 * Every request carries an `X-Req` header naming it, so the entries a query selects are
 * compared, as a set, with the requests the test knows it sent. Where a tshark display
 * filter can ask the same question, the number of request/response pairs it finds in the
 * same file must be the same (pairs, not frames: fields are counted per occurrence).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { netnsUnavailableReason, recordScenario, type HttpRequestSpec, type RecordedScenario } from './support/netns.js';
import { repoRoot } from './support/paths.js';
import { TSHARK_REASSEMBLY_PREFS } from './support/tshark.js';

const taplineBin = join(repoRoot, 'bin', 'tapline.js');
const built = existsSync(join(repoRoot, 'dist', 'src', 'cli', 'main.js'));
const skip = netnsUnavailableReason() ?? (built ? false : 'tapline is not built (npm run build)');
const T = { skip, timeout: 180_000 };

// ---------------------------------------------------------------------------
// What the test sends. `tag` goes out as the X-Req header; `status` is what nginx answers.

interface Sent extends HttpRequestSpec {
  tag: string;
  status: number;
}

const req = (tag: string, path: string, status: number, extra: Partial<HttpRequestSpec> = {}): Sent => ({
  tag,
  path,
  status,
  ...extra,
  headers: { 'X-Req': tag, ...(extra.headers ?? {}) },
});

/** Statuses: nginx closes the connection after a 500/503, curl opens a new one. */
const STATUS_STEP: Sent[] = [
  req('s500', '/status/500', 500),
  req('s503', '/status/503', 503),
  req('s404', '/status/404', 404),
  req('missing', '/missing/page', 404),
  req('s204', '/status/204', 204),
  req('health', '/healthz', 200),
  req('redirect', '/redirect', 302),
];

/** Query strings and a custom header, for the GET/path/queryString/headers example. */
const QUERY_STEP: Sent[] = [
  req('q50', '/api/orders?a=50', 201),
  req('q7', '/api/orders?a=7', 201),
  // "100" > 42 only as numbers ("100" < "42" as text).
  req('q100', '/api/orders?a=100', 201),
  req('q42', '/api/orders?a=42', 201),
  req('qabc', '/api/orders?a=abc', 201),
  req('q7x', '/api/orders?a=7', 201, { headers: { x: 'y' } }),
  req('q1xz', '/api/orders?a=1', 201, { headers: { x: 'z' } }),
  req('ex50', '/example?a=50', 404),
  req('ex7x', '/example?a=7', 404, { headers: { x: 'y' } }),
  req('post99', '/api/orders?a=99', 201, { method: 'POST', body: '{"sku":"SKU-1","qty":2}', headers: { 'Content-Type': 'application/json' } }),
  req('act', '/actuator/health?a=60', 404),
  req('actInfo', '/actuator/info', 404),
];

/** Accept headers: the regex is a search, so "text/plain, application/json" matches too. */
const ACCEPT_STEP: Sent[] = [
  req('accJson', '/json/small.json', 200, { headers: { Accept: 'application/json' } }),
  req('accJsonCs', '/api/orders', 201, { headers: { Accept: 'application/json; charset=utf-8' } }),
  // curl sends the name as written: the entry's key is "accept".
  req('accLower', '/api/some-other', 200, { headers: { accept: 'application/json' } }),
  req('accList', '/healthz', 200, { headers: { Accept: 'text/plain, application/json' } }),
  req('accHtml', '/html/about.html', 200, { headers: { Accept: 'text/html' } }),
  req('accProblem', '/api/orders', 201, { headers: { Accept: 'application/problem+json' } }),
];

/** JSON bodies: one plain, one gzip-compressed and chunked (Tapline decodes both). */
const JSON_STEP: Sent[] = [
  req('some', '/api/some', 200),
  req('someGz', '/api/some', 200, { compressed: true }),
  req('someOther', '/api/some-other', 200),
];

/** After the pause: the timestamp example selects what came before it. */
const LATE_STEP: Sent[] = [req('late500', '/status/500', 500), req('lateHealth', '/healthz', 200), req('lateSome', '/api/some?a=43', 200)];

const EARLY_HTTP = [...STATUS_STEP, ...QUERY_STEP, ...ACCEPT_STEP, ...JSON_STEP];
const ALL_HTTP = [...EARLY_HTTP, ...LATE_STEP];

interface Question {
  name: string;
  type: string;
}
const DNS_UDP: Question[] = [
  { name: 'cart.shop.svc.cluster.local', type: 'A' },
  { name: 'web.example.test', type: 'A' },
  { name: 'nope.shop.svc.cluster.local', type: 'A' }, // NXDOMAIN
  { name: 'example.test', type: 'MX' },
  { name: '_http._tcp.cart.shop.svc.cluster.local', type: 'SRV' },
];
const DNS_TCP: Question[] = [
  { name: 'frontend.shop.svc.cluster.local', type: 'A' },
  { name: 'missing.example.test', type: 'A' }, // NXDOMAIN
];
const DNS_LATE: Question[] = [
  { name: 'payments.billing.svc.cluster.local', type: 'AAAA' },
  { name: 'www.example.test', type: 'A' },
];
const dnsTag = (q: Question): string => `dns:${q.name}/${q.type}`;
const EARLY_DNS = [...DNS_UDP, ...DNS_TCP].map(dnsTag);
const ALL_DNS = [...EARLY_DNS, ...DNS_LATE.map(dnsTag)];

const tags = (xs: Sent[]): string[] => xs.map((x) => x.tag);
const PAUSE_SECONDS = 1;

// ---------------------------------------------------------------------------
// Running tapline and tshark.

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const tapline = (args: string[]): Promise<Run> => run(process.execPath, [taplineBin, ...args]);

interface EntryJson {
  protocol: { name: string };
  request?: { headers?: Record<string, string>; questions?: { name: string; type: string }[] };
}

/** Who sent an entry: its X-Req tag, or dns:name/type of its first question. */
function tagOf(e: EntryJson): string {
  if (e.protocol.name === 'dns') {
    const q = e.request?.questions?.[0];
    return q ? `dns:${q.name}/${q.type}` : 'dns:?';
  }
  return e.request?.headers?.['X-Req'] ?? `${e.protocol.name}:?`;
}

/** The tags of the entries `tapline read --kfl query` prints (duplicates kept, sorted). */
async function select(file: string, query: string, workers?: number): Promise<string[]> {
  const args = ['read', file, '--kfl', query, '--format', 'jsonl', '--quiet'];
  if (workers !== undefined) args.push('--workers', String(workers));
  const r = await tapline(args);
  assert.equal(r.code, 0, `tapline read --kfl ${query}: ${r.stderr}`);
  assert.equal(r.stderr, '', `no warnings for ${query}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => tagOf(JSON.parse(l) as EntryJson))
    .sort();
}

/**
 * How many times `field` occurs in the frames tshark's display filter keeps, with
 * reassembly on: a request field counts requests, a response field responses, even
 * when one frame carries several messages.
 */
async function tsharkCount(file: string, filter: string, field: string): Promise<number> {
  const prefs = TSHARK_REASSEMBLY_PREFS.flatMap((p) => ['-o', p]);
  const r = await run('tshark', ['-n', '-r', file, ...prefs, '-Y', filter, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', '-e', field]);
  assert.equal(r.code, 0, `tshark -Y ${filter}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .reduce((n, l) => n + l.split('|').filter((v) => v !== '').length, 0);
}

/** Frame times (seconds since the epoch) of every HTTP request and DNS query, in order. */
async function tsharkRequestTimes(file: string): Promise<number[]> {
  const prefs = TSHARK_REASSEMBLY_PREFS.flatMap((p) => ['-o', p]);
  const r = await run('tshark', ['-n', '-r', file, ...prefs, '-Y', 'http.request or dns.flags.response == 0', '-T', 'fields', '-e', 'frame.time_epoch']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Kubeshark's datetime layout (Go `1/2/2006, 3:04:05.000 PM`), in UTC as KFL reads it. */
function kubesharkDatetime(ms: number): string {
  const d = new Date(ms);
  const h24 = d.getUTCHours();
  const h12 = h24 % 12 === 0 ? 12 : h24 % 12;
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}, ` +
    `${h12}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, '0')} ${h24 < 12 ? 'AM' : 'PM'}`
  );
}

const sorted = (xs: string[]): string[] => [...xs].sort();

// ---------------------------------------------------------------------------

describe('KFL examples on a recorded capture, cross-checked with tshark', () => {
  let rec: RecordedScenario;
  let file: string;

  before(async () => {
    if (skip) return;
    rec = await recordScenario('kfl-examples', [
      { kind: 'http', requests: STATUS_STEP },
      { kind: 'http', requests: QUERY_STEP },
      { kind: 'http', requests: ACCEPT_STEP },
      { kind: 'http', requests: JSON_STEP },
      { kind: 'dns', queries: DNS_UDP },
      { kind: 'dns', queries: DNS_TCP, tcp: true },
      { kind: 'exec', side: 'client', cmd: 'sleep', args: [String(PAUSE_SECONDS)] },
      { kind: 'http', requests: LATE_STEP },
      { kind: 'dns', queries: DNS_LATE },
    ]);
    file = rec.file;
  });
  after(() => rec?.remove());

  test('the recording holds every request with the status curl saw, and tapline reads each once', T, async () => {
    assert.equal(rec.capture.droppedByKernel, 0);
    const steps = [STATUS_STEP, QUERY_STEP, ACCEPT_STEP, JSON_STEP, LATE_STEP];
    assert.equal(rec.transfers.length, steps.length);
    steps.forEach((step, i) => {
      assert.deepEqual(
        rec.transfers[i]!.map((t) => `${t.method} ${t.url} ${t.status}`),
        step.map((s) => `${s.method ?? 'GET'} ${rec.nginx.baseUrl}${s.path} ${s.status}`),
      );
    });
    assert.deepEqual(await select(file, ''), sorted([...tags(ALL_HTTP), ...ALL_DNS]));
    assert.equal(await tsharkCount(file, 'http.request', 'http.request.method'), ALL_HTTP.length);
    assert.equal(await tsharkCount(file, 'http.response', 'http.response.code'), ALL_HTTP.length);
    assert.equal(await tsharkCount(file, 'dns.flags.response == 0', 'dns.id'), ALL_DNS.length);
  });

  test('http and response.status == 500', T, async () => {
    const got = await select(file, 'http and response.status == 500');
    assert.deepEqual(got, sorted(['s500', 'late500']));
    assert.equal(await tsharkCount(file, 'http.response.code == 500', 'http.response.code'), got.length);
  });

  test('dns', T, async () => {
    const got = await select(file, 'dns');
    assert.deepEqual(got, sorted(ALL_DNS));
    assert.equal(await tsharkCount(file, 'dns.flags.response == 0', 'dns.id'), got.length);
    assert.equal(await tsharkCount(file, 'dns.flags.response == 1', 'dns.id'), got.length, 'every question was answered');
  });

  test('http and response.status == r"4.*" (a search: 204 contains a 4 too)', T, async () => {
    const got = await select(file, 'http and response.status == r"4.*"');
    assert.deepEqual(got, sorted(['s404', 'missing', 's204', 'ex50', 'ex7x', 'act', 'actInfo']));
    assert.equal(await tsharkCount(file, 'string(http.response.code) matches "4.*"', 'http.response.code'), got.length);
    // Anchored, it is only the 4xx.
    const anchored = await select(file, 'http and response.status == r"^4"');
    assert.deepEqual(anchored, sorted(['s404', 'missing', 'ex50', 'ex7x', 'act', 'actInfo']));
    assert.equal(await tsharkCount(file, 'http.response.code >= 400 and http.response.code < 500', 'http.response.code'), anchored.length);
  });

  test('http and request.method == "GET" and request.path != "/example" and (request.queryString["a"] > 42 or request.headers["x"] == "y")', T, async () => {
    const q = 'http and request.method == "GET" and request.path != "/example" and (request.queryString["a"] > 42 or request.headers["x"] == "y")';
    const got = await select(file, q);
    assert.deepEqual(got, sorted(['q50', 'q100', 'q7x', 'act', 'lateSome']));
    // tshark has no numeric view of a query parameter: "> 42" for whole numbers as a regex.
    const ts =
      'http.request.method == "GET" and !(http.request.uri matches "^/example([?]|$)") and ' +
      '(http.request.uri.query.parameter matches "^a=(4[3-9]|[5-9][0-9]|[1-9][0-9]{2,})$" or http.request.line == "x: y\\r\\n")';
    assert.equal(await tsharkCount(file, ts, 'http.request.method'), got.length);
  });

  test('http and request.headers["Accept"] == r"application/json.*" (header names in any case)', T, async () => {
    const got = await select(file, 'http and request.headers["Accept"] == r"application/json.*"');
    assert.deepEqual(got, sorted(['accJson', 'accJsonCs', 'accLower', 'accList']));
    assert.equal(await tsharkCount(file, 'http.accept matches "application/json.*"', 'http.request.method'), got.length);
  });

  test('timestamp < datetime("…") selects what was sent before the pause', T, async () => {
    // The steps ran one after the other: the early requests are the first ones tshark sees,
    // and the pause lies between the last of them and the first late one. The cutoff is its middle.
    const times = await tsharkRequestTimes(file);
    assert.equal(times.length, ALL_HTTP.length + ALL_DNS.length);
    const lastEarly = EARLY_HTTP.length + EARLY_DNS.length - 1;
    const gap = times[lastEarly + 1]! - times[lastEarly]!;
    assert.ok(gap >= PAUSE_SECONDS * 0.9, `the pause shows as a gap (${gap} s)`);
    const cutoffMs = Math.floor(((times[lastEarly]! + times[lastEarly + 1]!) / 2) * 1000);
    const when = kubesharkDatetime(cutoffMs);
    assert.match(when, /^\d{1,2}\/\d{1,2}\/\d{4}, \d{1,2}:\d{2}:\d{2}\.\d{3} [AP]M$/);

    const got = await select(file, `timestamp < datetime("${when}")`);
    assert.deepEqual(got, sorted([...tags(EARLY_HTTP), ...EARLY_DNS]));
    const before = await tsharkCount(file, `(http.request or dns.flags.response == 0) and frame.time_epoch < ${(cutoffMs / 1000).toFixed(3)}`, 'frame.number');
    assert.equal(before, got.length);
    const later = await select(file, `timestamp >= datetime("${when}")`);
    assert.deepEqual(later, sorted([...tags(LATE_STEP), ...DNS_LATE.map(dnsTag)]));
  });

  test('response.content.text.json().some.path == "somevalue" (plain and gzip bodies)', T, async () => {
    const got = await select(file, 'response.content.text.json().some.path == "somevalue"');
    assert.deepEqual(got, sorted(['some', 'someGz', 'lateSome']));
    assert.equal(await tsharkCount(file, 'json.path_with_value == "/some/path:somevalue"', 'http.response.code'), got.length);
    const other = await select(file, 'response.content.text.json().some.path == "othervalue"');
    assert.deepEqual(other, sorted(['accLower', 'someOther']));
  });

  test('!request.path.startsWith("/actuator") and http and dst.name != "pgadmin.development"', T, async () => {
    const got = await select(file, '!request.path.startsWith("/actuator") and http and dst.name != "pgadmin.development"');
    // No identity resolver here: dst.name is missing (null), and null != "…" holds.
    assert.deepEqual(got, sorted(tags(ALL_HTTP).filter((t) => t !== 'act' && t !== 'actInfo')));
    assert.equal(await tsharkCount(file, 'http.request and !(http.request.uri matches "^/actuator")', 'http.request.method'), got.length);
  });

  test('http && response.status >= 500', T, async () => {
    const got = await select(file, 'http && response.status >= 500');
    assert.deepEqual(got, sorted(['s500', 's503', 'late500']));
    assert.equal(await tsharkCount(file, 'http.response.code >= 500', 'http.response.code'), got.length);
  });

  test('dns and request.questions[0].name.endsWith(".cluster.local")', T, async () => {
    const got = await select(file, 'dns and request.questions[0].name.endsWith(".cluster.local")');
    const want = [...DNS_UDP, ...DNS_TCP, ...DNS_LATE].filter((q) => q.name.endsWith('.cluster.local')).map(dnsTag);
    assert.equal(want.length, 5);
    assert.deepEqual(got, sorted(want));
    assert.equal(await tsharkCount(file, 'dns.flags.response == 0 and dns.qry.name matches "\\\\.cluster\\\\.local$"', 'dns.id'), got.length);
  });

  test('not http', T, async () => {
    const got = await select(file, 'not http');
    assert.deepEqual(got, sorted(ALL_DNS));
    assert.equal(await tsharkCount(file, '!http and dns.flags.response == 0', 'dns.id'), got.length);
  });

  test('src.ip == "10.0.0.1" or dst.port == 53 (nobody here is 10.0.0.1: the DNS side only)', T, async () => {
    const got = await select(file, 'src.ip == "10.0.0.1" or dst.port == 53');
    assert.deepEqual(got, sorted(ALL_DNS));
    const ts = '(ip.src == 10.0.0.1 and (http.request or dns.flags.response == 0)) or (dns.flags.response == 0 and (udp.dstport == 53 or tcp.dstport == 53))';
    assert.equal(await tsharkCount(file, ts, 'dns.id'), got.length);
    // With the test net's real client address, every entry.
    const all = await select(file, `src.ip == "${rec.clientIp}" or dst.port == 53`);
    assert.deepEqual(all, sorted([...tags(ALL_HTTP), ...ALL_DNS]));
    const http = await select(file, `src.ip == "${rec.clientIp}" and dst.port == ${rec.httpPort}`);
    assert.deepEqual(http, sorted(tags(ALL_HTTP)));
    assert.equal(await tsharkCount(file, `ip.src == ${rec.clientIp} and tcp.dstport == ${rec.httpPort} and http.request`, 'http.request.method'), http.length);
  });

  test('one dissecting thread and several select the same entries', T, async () => {
    const q = 'http and (response.status >= 400 or request.headers["x"] == "y") or dns and response.code == "NXDOMAIN"';
    const single = await select(file, q, 0);
    assert.deepEqual(single, sorted(['s404', 'missing', 's500', 's503', 'late500', 'ex50', 'ex7x', 'act', 'actInfo', 'q7x', 'dns:nope.shop.svc.cluster.local/A', 'dns:missing.example.test/A']));
    assert.deepEqual(await select(file, q, 3), single);
    assert.equal(await tsharkCount(file, 'dns.flags.rcode == 3', 'dns.id'), 2);
  });

  test('limit(n) prints n of the selected entries', T, async () => {
    const got = await select(file, 'dns and limit(3)');
    assert.equal(got.length, 3);
    for (const t of got) assert.ok(ALL_DNS.includes(t), t);
  });
});

// ---------------------------------------------------------------------------
// Bad queries on the command line: exit 2, the code, and a caret under the span.

describe('tapline read --kfl with a bad query', () => {
  const cases: { query: string; code: string; column: number; carets: number }[] = [
    { query: 'http and (response.status == 5', code: 'kfl.unbalanced_paren', column: 10, carets: 1 },
    { query: 'http and response.status ==', code: 'kfl.expected_value', column: 28, carets: 1 },
    { query: 'http and foo(1)', code: 'kfl.unknown_function', column: 10, carets: 3 },
    { query: 'request.path == r"a(" and http', code: 'kfl.bad_regex', column: 17, carets: 5 },
    { query: 'request.path == "/api', code: 'kfl.unterminated_string', column: 17, carets: 5 },
  ];
  for (const c of cases) {
    test(`${c.query} → ${c.code} at col ${c.column}`, { skip: built ? false : 'tapline is not built (npm run build)' }, async () => {
      // The query is checked before the file is opened: no capture needed.
      const r = await tapline(['read', '/nonexistent.pcap', '--kfl', c.query, '--quiet']);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      const lines = r.stderr.split('\n');
      assert.equal(lines[0], 'tapline read: bad --kfl query');
      assert.match(lines[1]!, new RegExp(`^line 1, col ${c.column}: ${c.code.replace('.', '\\.')}: `));
      assert.equal(lines[2], `  ${c.query}`);
      assert.equal(lines[3], `  ${' '.repeat(c.column - 1)}${'^'.repeat(c.carets)}`);
    });
  }
});

// ---------------------------------------------------------------------------
// `tapline kfl check` on every example: the normalised form and the push-down plan.

describe('tapline kfl check on the examples', () => {
  const examples: { query: string; normalized: string; plan?: object }[] = [
    { query: 'http and response.status == 500', normalized: 'protocol.name == "http" and response.status == 500', plan: { protocols: ['http'], statusRange: [500, 500] } },
    { query: 'dns', normalized: 'protocol.name == "dns"', plan: { protocols: ['dns'] } },
    { query: 'http and response.status == r"4.*"', normalized: 'protocol.name == "http" and response.status == r"4.*"', plan: { protocols: ['http'] } },
    {
      query: 'http and request.method == "GET" and request.path != "/example" and (request.queryString["a"] > 42 or request.headers["x"] == "y")',
      // Keys that are names print as `.name`.
      normalized: 'protocol.name == "http" and request.method == "GET" and request.path != "/example" and (request.queryString.a > 42 or request.headers.x == "y")',
      plan: { protocols: ['http'], texts: ['GET'] },
    },
    {
      query: 'http and request.headers["Accept"] == r"application/json.*"',
      normalized: 'protocol.name == "http" and request.headers.Accept == r"application/json.*"',
      plan: { protocols: ['http'] },
    },
    {
      query: 'timestamp < datetime("10/28/2021, 9:13:02.905 PM")',
      normalized: 'timestamp < datetime("10/28/2021, 9:13:02.905 PM")',
      plan: { timeTo: Date.UTC(2021, 9, 28, 21, 13, 2, 905) },
    },
    { query: 'response.content.text.json().some.path == "somevalue"', normalized: 'response.content.text.json().some.path == "somevalue"', plan: {} },
    {
      query: '!request.path.startsWith("/actuator") and http and dst.name != "pgadmin.development"',
      normalized: 'not request.path.startsWith("/actuator") and protocol.name == "http" and dst.name != "pgadmin.development"',
      plan: { protocols: ['http'] },
    },
    {
      query: 'http && response.status >= 500',
      normalized: 'protocol.name == "http" and response.status >= 500',
      plan: { protocols: ['http'], statusRange: [500, Number.MAX_SAFE_INTEGER] },
    },
    {
      query: 'dns and request.questions[0].name.endsWith(".cluster.local")',
      normalized: 'protocol.name == "dns" and request.questions[0].name.endsWith(".cluster.local")',
      plan: { protocols: ['dns'], texts: ['.cluster.local'] },
    },
    { query: 'not http', normalized: 'not (protocol.name == "http")', plan: {} },
    { query: 'src.ip == "10.0.0.1" or dst.port == 53', normalized: 'src.ip == "10.0.0.1" or dst.port == 53', plan: {} },
  ];
  for (const ex of examples) {
    test(ex.query, { skip: built ? false : 'tapline is not built (npm run build)' }, async () => {
      const text = await tapline(['kfl', 'check', ex.query]);
      assert.equal(text.code, 0, text.stderr);
      const lines = text.stdout.split('\n');
      assert.equal(lines[0], `normalized: ${ex.normalized}`);
      assert.equal(lines[1], `plan:       ${JSON.stringify(ex.plan)}`);
      assert.equal(lines[2], 'warnings:   none');

      const json = await tapline(['kfl', 'check', ex.query, '--json']);
      assert.equal(json.code, 0);
      const parsed = JSON.parse(json.stdout) as { ok: boolean; normalized: string; plan: object; warnings: unknown[] };
      assert.equal(parsed.ok, true);
      assert.equal(parsed.normalized, ex.normalized);
      assert.deepEqual(parsed.plan, ex.plan);
      assert.deepEqual(parsed.warnings, []);
      // The normalised form is itself a query with the same meaning and plan.
      const again = await tapline(['kfl', 'check', ex.normalized, '--json']);
      assert.deepEqual((JSON.parse(again.stdout) as { plan: object }).plan, ex.plan);
    });
  }
});
