import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { runKflCommand } from './kfl-command.js';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (d: Buffer) => (o += d.toString()));
  err.on('data', (d: Buffer) => (e += d.toString()));
  const code = await runKflCommand(args, out, err);
  return { code, out: o, err: e };
}

describe('tapline kfl check', () => {
  test('--help prints the usage on stdout and exits 0; no subcommand is bad usage', async () => {
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /^usage: tapline kfl check QUERY/);
    assert.equal(help.err, '');
    const none = await run([]);
    assert.equal(none.code, 1);
    assert.match(none.err, /^usage: /);
  });
  test('prints the normalised expression, plan and warnings', async () => {
    const r = await run(['check', 'http and response.status >= 500 and limit(5)']);
    assert.equal(r.code, 0);
    assert.equal(
      r.out,
      ['normalized: protocol.name == "http" and response.status >= 500', 'limit:      5', 'plan:       {"protocols":["http"],"statusRange":[500,9007199254740991]}', 'warnings:   none', ''].join('\n'),
    );
  });
  test('an error prints the query with a caret and exits 2', async () => {
    const r = await run(['check', 'http and']);
    assert.equal(r.code, 2);
    assert.equal(r.err, "line 1, col 9: kfl.expected_value: expected a value after 'and', found the end of the query\n  http and\n          ^\n");
  });
  test('--json prints the error object', async () => {
    const r = await run(['check', '--json', 'foo()']);
    assert.equal(r.code, 2);
    assert.deepEqual(JSON.parse(r.out), { ok: false, error: { code: 'kfl.unknown_function', message: "unknown function 'foo'", span: { start: 0, end: 3, line: 1, column: 1 } } });
  });
  test('--json prints the plan', async () => {
    const r = await run(['check', 'dns', '--json']);
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.out).plan, { protocols: ['dns'] });
  });
  test('no query is a usage error', async () => {
    assert.equal((await run(['check'])).code, 1);
    assert.equal((await run(['bogus'])).code, 1);
  });
});

describe('tapline kfl fields', () => {
  test('--protocol dns lists common and DNS fields only', async () => {
    const r = await run(['fields', '--protocol', 'dns', '--json']);
    assert.equal(r.code, 0);
    const paths = (JSON.parse(r.out) as { path: string }[]).map((f) => f.path);
    assert.ok(paths.includes('request.questions[].name'));
    assert.ok(paths.includes('src.ip'));
    assert.ok(!paths.includes('response.status'));
  });
  test('text lists one field a line with type and description', async () => {
    const r = await run(['fields']);
    const line = r.out.split('\n').find((l) => l.startsWith('response.status '));
    assert.match(line ?? '', /^response\.status\s+number\s+status code \[http, http2, grpc, ws\]$/);
  });
  test('an unknown protocol exits 1', async () => {
    assert.equal((await run(['fields', '--protocol', 'gopher'])).code, 1);
  });
});
