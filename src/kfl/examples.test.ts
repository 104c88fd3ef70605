import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, planAdmits } from './index.js';

// The example queries over hand-built entries of the Entry schema; the capture
// cross-checks against tshark come with the pipeline.
const t0 = Date.UTC(2021, 9, 28, 21, 13, 2, 905); // datetime("10/28/2021, 9:13:02.905 PM")

function entry(id: string, protocol: string, layer4: 'tcp' | 'udp', timestamp: number, src: object, dst: object, request?: object, response?: object): object {
  return {
    id,
    stream: '000000000001',
    index: 0,
    node: { name: 'node-a' },
    protocol: { name: protocol, version: '', abbr: protocol.toUpperCase(), layer4 },
    timestamp,
    startTime: new Date(timestamp).toISOString(),
    elapsedTime: 1,
    src,
    dst,
    outgoing: false,
    ...(request ? { request } : {}),
    ...(response ? { response } : {}),
    requestSize: 100,
    responseSize: 100,
    passed: false,
    failed: false,
  };
}

const entries = [
  entry('A', 'http', 'tcp', t0 - 1000, { ip: '10.0.0.1', port: 40001 }, { ip: '10.0.1.1', port: 8080, name: 'users' },
    { method: 'GET', path: '/api/users', headers: { Accept: 'application/json; charset=utf-8' }, queryString: { a: '50' } },
    { status: 200, headers: {} }),
  entry('B', 'http', 'tcp', t0 + 1000, { ip: '10.0.0.3', port: 40002 }, { ip: '10.0.1.2', port: 80, name: 'pgadmin.development' },
    { method: 'GET', path: '/example', headers: { x: 'y' }, queryString: { a: '10' } },
    { status: 500, headers: {} }),
  entry('C', 'http', 'tcp', t0, { ip: '10.0.0.4', port: 40003 }, { ip: '10.0.1.3', port: 8080, name: 'api' },
    { method: 'POST', path: '/actuator/health', headers: {}, queryString: {} },
    { status: 503, headers: {}, content: { mimeType: 'application/json', text: '{"some":{"path":"somevalue"}}' } }),
  entry('D', 'http', 'tcp', t0 - 5, { ip: '10.0.0.6', port: 40004 }, { ip: '10.0.1.4', port: 8080, name: 'web' },
    { method: 'GET', path: '/login', headers: { accept: 'text/html' }, queryString: { a: '43' } },
    { status: 404, headers: {} }),
  entry('E', 'dns', 'udp', t0 + 5, { ip: '10.0.0.5', port: 5353 }, { ip: '10.96.0.10', port: 53 },
    { id: 1, opCode: 'QUERY', questions: [{ name: 'cart.shop.svc.cluster.local', type: 'A', class: 'IN' }] },
    { code: 'NOERROR', answers: [{ name: 'cart.shop.svc.cluster.local', type: 'A', class: 'IN', ttl: 5, data: '10.0.1.9' }] }),
  entry('F', 'dns', 'udp', t0 + 10, { ip: '10.0.0.1', port: 5354 }, { ip: '10.96.0.10', port: 53 },
    { id: 2, opCode: 'QUERY', questions: [{ name: 'example.com', type: 'AAAA', class: 'IN' }] },
    { code: 'NXDOMAIN', answers: [] }),
  entry('G', 'http2', 'tcp', t0 + 20, { ip: '10.0.0.7', port: 40005 }, { ip: '10.0.1.5', port: 443 },
    { method: 'GET', path: '/api', headers: { ':path': '/api' }, queryString: {} },
    { status: 500, headers: {} }),
  entry('H', 'redis', 'tcp', t0 + 30, { ip: '10.0.0.9', port: 40006 }, { ip: '10.0.1.6', port: 6379 },
    { type: 'array', command: 'GET', key: 'cart:1' }),
];

const examples: [string, string[]][] = [
  ['http and response.status == 500', ['B']],
  ['dns', ['E', 'F']],
  ['http and response.status == r"4.*"', ['D']],
  ['http and request.method == "GET" and request.path != "/example" and (request.queryString["a"] > 42 or request.headers["x"] == "y")', ['A', 'D']],
  ['http and request.headers["Accept"] == r"application/json.*"', ['A']],
  ['timestamp < datetime("10/28/2021, 9:13:02.905 PM")', ['A', 'D']],
  ['response.content.text.json().some.path == "somevalue"', ['C']],
  ['!request.path.startsWith("/actuator") and http and dst.name != "pgadmin.development"', ['A', 'D']],
  ['http && response.status >= 500', ['B', 'C']],
  ['dns and request.questions[0].name.endsWith(".cluster.local")', ['E']],
  ['not http', ['E', 'F', 'G', 'H']],
  ['src.ip == "10.0.0.1" or dst.port == 53', ['A', 'E', 'F']],
];

describe("the issue's example queries", () => {
  for (const [query, expected] of examples) {
    test(`${query} selects ${expected.join(', ')}`, () => {
      const q = compile(query);
      assert.deepEqual(q.warnings, []);
      const got = entries.filter((e) => q.match(e)).map((e) => (e as { id: string }).id);
      assert.deepEqual(got, expected);
      for (const e of entries) if (q.match(e)) assert.ok(planAdmits(q.plan, e), `plan ${JSON.stringify(q.plan)} drops ${(e as { id: string }).id}`);
    });
  }

  test('their plans narrow what can be narrowed', () => {
    assert.deepEqual(compile(examples[0][0]).plan, { protocols: ['http'], statusRange: [500, 500] });
    assert.deepEqual(compile(examples[1][0]).plan, { protocols: ['dns'] });
    assert.deepEqual(compile(examples[5][0]).plan, { timeTo: t0 });
    assert.deepEqual(compile(examples[8][0]).plan, { protocols: ['http'], statusRange: [500, Number.MAX_SAFE_INTEGER] });
    assert.deepEqual(compile(examples[10][0]).plan, {});
    assert.deepEqual(compile(examples[11][0]).plan, {});
  });

  test('their normalised forms', () => {
    assert.equal(
      compile(examples[3][0]).normalized,
      'protocol.name == "http" and request.method == "GET" and request.path != "/example" and (request.queryString.a > 42 or request.headers.x == "y")',
    );
    assert.equal(compile(examples[7][0]).normalized, 'not request.path.startsWith("/actuator") and protocol.name == "http" and dst.name != "pgadmin.development"');
    assert.equal(compile(examples[10][0]).normalized, 'not (protocol.name == "http")');
  });
});
