import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, planAdmits, type PushDownPlan } from './index.js';
import { prng as rng } from '../common/prng.js';

const NOW = 1_700_000_000_000;
const planOf = (q: string): PushDownPlan => compile(q, { now: () => NOW }).plan;

describe('plan derivation', () => {
  const cases: [string, PushDownPlan][] = [
    ['http', { protocols: ['http'] }],
    ['http or dns', { protocols: ['dns', 'http'] }],
    ['(http and response.status == 500) or (dns and src.ip == "10.0.0.1")', { protocols: ['dns', 'http'] }],
    ['http and dns', { protocols: [] }],
    ['http or src.ip == "1.2.3.4"', {}],
    ['not http', {}],
    ['not (src.ip == "1.2.3.4")', {}],
    ['src.ip == "1.2.3.4" or dst.ip == "5.6.7.8"', { ips: ['1.2.3.4', '5.6.7.8'] }],
    ['src.ip == "1.2.3.4" and dst.ip == "5.6.7.8"', { ips: ['1.2.3.4'] }],
    ['dst.port == 53 or src.port == "5353"', { ports: [53, 5353] }],
    ['src.port == "http"', {}],
    ['dst.namespace == "shop"', { namespaces: ['shop'] }],
    ['response.status >= 400 and response.status < 500', { statusRange: [400, 500] }],
    ['response.status == 500 or response.status == 404', { statusRange: [404, 500] }],
    ['500 <= response.status', { statusRange: [500, Number.MAX_SAFE_INTEGER] }],
    ['response.status >= "400"', {}],
    ['response.status == "500"', { statusRange: [500, 500] }],
    ['response.status == r"5.."', {}],
    ['response.status != 500', {}],
    ['timestamp >= 1000 and timestamp <= 2000', { timeFrom: 1000, timeTo: 2000 }],
    ['timestamp > now() - hours(1)', { timeFrom: NOW - 3_600_000 }],
    ['timestamp < now()', {}],
    ['timestamp == now()', { timeFrom: NOW }],
    ['timestamp > datetime("10/28/2021, 9:13:02.905 PM")', { timeFrom: Date.UTC(2021, 9, 28, 21, 13, 2, 905) }],
    ['http and limit(10)', { protocols: ['http'] }],
    ['tcp', {}],
    ['protocol.name == "kafka" and request.apiKeyName == "Produce"', { protocols: ['kafka'], texts: ['Produce'] }],
    // Texts the stored form must hold: fields no index answers, literals only a string can match.
    ['request.path == "/api/v1/orders"', { texts: ['/api/v1/orders'] }],
    ['"/a" == request.path', { texts: ['/a'] }],
    ['request.path.contains("orders") and request.headers["User-Agent"].startsWith("curl/")', { texts: ['curl/', 'orders'] }],
    ['request.url.endsWith("?x=1")', { texts: ['?x=1'] }],
    ['request.path == "/a" or request.path == "/b"', {}],
    ['(request.path == "/a" and id == "n1") or (request.path == "/a" and id == "n2")', { texts: ['/a'] }],
    ['not request.path == "/a"', {}],
    ['request.path != "/a"', {}],
    ['request.path == r"/a"', {}],
    ['request.path.matches("orders")', {}],
    // A number or boolean could match these (by its text), and is not stored as text by V8.
    ['request.path == "500"', {}],
    ['request.path.contains("1e5")', {}],
    ['request.path == "true"', {}],
    ['request.path.startsWith("Infinity")', {}],
    // JSON would escape these, or they are not ASCII.
    ['request.path == "a\\"b"', {}],
    ['request.path == "caf\u00e9"', {}],
    ['request.path == ""', {}],
    // Decoded when read (deferred gzip bodies): not in the stored bytes.
    ['response.content.text.contains("error")', {}],
    ['request.postData.text == "x=y"', {}],
    ['issues.contains("http.bad_content_encoding")', {}],
    // Indexed fields are narrowed by their indexes instead.
    ['dst.namespace == "shop" and protocol.name == "http"', { namespaces: ['shop'], protocols: ['http'] }],
  ];
  for (const [q, plan] of cases) {
    test(`${q} → ${JSON.stringify(plan)}`, () => assert.deepEqual(planOf(q), plan));
  }
});

const PROTOCOLS = ['http', 'dns', 'redis', 'http2', 'kafka'];
const IPS = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
const PORTS = [53, 80, 8080];
const NAMESPACES = ['shop', 'kube-system', 'payments'];
const STATUSES = [200, 404, 500, 503];
const PATHS = ['/api/orders', '/api/orders/7', '/healthz', '/static/app.js', '/'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function randomEntry(r: () => number): object {
  const status = pick(r, STATUSES);
  const port = pick(r, PORTS);
  const e: Record<string, unknown> = {
    protocol: { name: pick(r, PROTOCOLS), layer4: r() < 0.5 ? 'tcp' : 'udp' },
    timestamp: NOW - 7_200_000 + Math.floor(r() * 14_400_000),
    src: { ip: pick(r, IPS), port: r() < 0.2 ? String(port) : port, namespace: pick(r, NAMESPACES) },
    dst: { ip: pick(r, IPS), port: pick(r, PORTS), namespace: r() < 0.3 ? undefined : pick(r, NAMESPACES) },
    request: { method: pick(r, ['GET', 'POST']), path: pick(r, PATHS), headers: { 'User-Agent': pick(r, ['curl/8.1', 'Go-http-client/1.1', 'kube-probe/1.29']) } },
    tags: r() < 0.3 ? [pick(r, PATHS), 200] : pick(r, [true, 7, 'x-y']),
  };
  if (r() < 0.8) e.response = { status: r() < 0.15 ? String(status) : status };
  return e;
}

function randomAtom(r: () => number): string {
  const ops = ['==', '!=', '<', '<=', '>', '>='];
  switch (Math.floor(r() * 14)) {
    case 0:
      return pick(r, [...PROTOCOLS, 'tcp', 'udp']);
    case 1:
      return `protocol.name ${pick(r, ['==', '!='])} ${JSON.stringify(pick(r, PROTOCOLS))}`;
    case 2:
      return `${pick(r, ['src', 'dst'])}.ip ${pick(r, ['==', '!='])} ${r() < 0.8 ? JSON.stringify(pick(r, IPS)) : 'r"0\\.1$"'}`;
    case 3:
      return `${pick(r, ['src', 'dst'])}.port ${pick(r, ops)} ${r() < 0.7 ? pick(r, PORTS) : JSON.stringify(String(pick(r, PORTS)))}`;
    case 4:
      return `${pick(r, ['src', 'dst'])}.namespace ${pick(r, ['==', '!='])} ${r() < 0.9 ? JSON.stringify(pick(r, NAMESPACES)) : 'null'}`;
    case 5:
    case 6:
      return `response.status ${pick(r, ops)} ${r() < 0.7 ? pick(r, STATUSES) : JSON.stringify(String(pick(r, STATUSES)))}`;
    case 7:
      return `${pick(r, STATUSES)} ${pick(r, ops)} response.status`;
    case 8:
      return `timestamp ${pick(r, ops)} now() - minutes(${Math.floor(r() * 200) - 100})`;
    case 9:
      return `timestamp ${pick(r, ops)} ${NOW + Math.floor(r() * 7_200_000) - 3_600_000}`;
    case 10:
      return `response.status == r"${pick(r, ['^5', '4', '0$'])}"`;
    case 11:
      return `request.method == ${JSON.stringify(pick(r, ['GET', 'POST']))}`;
    case 12:
      return `${pick(r, ['request.path', 'tags'])} ${pick(r, ['==', '!='])} ${JSON.stringify(pick(r, [...PATHS, '/nope', 'x-y', 'true', '7']))}`;
    default:
      return `${pick(r, ['request.path', 'request.headers["user-agent"]', 'request.headers["User-Agent"]', 'tags'])}.${pick(r, ['contains', 'startsWith', 'endsWith'])}(${JSON.stringify(pick(r, ['/api', 'orders', 'curl', '1.1', '/', 's/7', 'tr', 'x-']))})`;
  }
}

function randomQuery(r: () => number, depth: number): string {
  const x = r();
  if (depth <= 0 || x < 0.35) return randomAtom(r);
  if (x < 0.5) return `not (${randomQuery(r, depth - 1)})`;
  const n = 2 + Math.floor(r() * 3);
  const parts = Array.from({ length: n }, () => randomQuery(r, depth - 1));
  return `(${parts.join(x < 0.8 ? ' and ' : ' or ')})`;
}

describe('the plan never drops a matching entry (property over random queries and entries)', () => {
  test('3000 random queries × 60 random entries', () => {
    const r = rng(0x6b666c);
    const entries = Array.from({ length: 60 }, () => randomEntry(r));
    let narrowed = 0;
    let matches = 0;
    for (let i = 0; i < 3000; i++) {
      const query = randomQuery(r, 3);
      // Later clock than at planning: now()-based bounds must stay safe as time moves on.
      let clock = NOW;
      const q = compile(query, { now: () => clock });
      clock = NOW + 60_000;
      if (Object.keys(q.plan).length) narrowed++;
      for (const e of entries) {
        if (!q.match(e)) continue;
        matches++;
        assert.ok(planAdmits(q.plan, e), `plan ${JSON.stringify(q.plan)} of ${query} drops ${JSON.stringify(e)}`);
      }
    }
    // The property is only worth something if plans narrow and queries match often.
    assert.ok(narrowed > 1000, `only ${narrowed} plans narrowed`);
    assert.ok(matches > 10000, `only ${matches} matches`);
  });
});

describe('planAdmits', () => {
  const e = { protocol: { name: 'http' }, timestamp: 1500, src: { ip: 'a', port: 1 }, dst: { ip: 'b', port: '2', namespace: 'n' }, response: { status: '500' } };
  test('each field narrows', () => {
    assert.equal(planAdmits({}, e), true);
    assert.equal(planAdmits({ timeFrom: 1500, timeTo: 1500 }, e), true);
    assert.equal(planAdmits({ timeFrom: 1501 }, e), false);
    assert.equal(planAdmits({ protocols: ['dns'] }, e), false);
    assert.equal(planAdmits({ ips: ['b'] }, e), true);
    assert.equal(planAdmits({ ips: ['c'] }, e), false);
    assert.equal(planAdmits({ ports: [2] }, e), true);
    assert.equal(planAdmits({ namespaces: ['m'] }, e), false);
    assert.equal(planAdmits({ statusRange: [500, 599] }, e), true);
    assert.equal(planAdmits({ statusRange: [400, 499] }, e), false);
    assert.equal(planAdmits({ statusRange: [0, 999] }, { response: {} }), false);
    assert.equal(planAdmits({ texts: ['50'] }, e), true);
    assert.equal(planAdmits({ texts: ['http', 'zz'] }, e), false);
  });
});
