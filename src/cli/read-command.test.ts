/**
 * `tapline read` as a user runs it: the real command on captures recorded from real
 * servers (the fixtures of src/protocols), with its exit codes, summary and errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { repoRoot } from '../../test/support/paths.js';

const NGINX = join(repoRoot, 'src/protocols/http/fixtures/nginx.pcap');
const DNS = join(repoRoot, 'src/protocols/dns/fixtures/dns-dnsmasq.pcap');

function tapline(args: string[], input?: Buffer) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin/tapline.js'), ...args], { input, maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const entries = (stdout: string) => stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
/** What identifies an entry whichever thread made it (stream ids are numbered per thread): client port, index, request, status. */
const keyOf = (e: any) => `${e.src.port}-${e.index} ${e.request?.method ?? ''}${e.request?.url ?? ''}${e.request?.questions?.[0]?.name ?? ''} ${e.response?.status ?? e.response?.code ?? e.error?.type}`;

test('jsonl entries of a real nginx capture, with the summary on stderr', () => {
  const r = tapline(['read', NGINX, '--workers', '0', '--node', 'node-a']);
  assert.equal(r.code, 0, r.stderr);
  const es = entries(r.stdout);
  assert.deepEqual(
    es.map((e) => `${e.request.method} ${e.request.url} ${e.response.status}`),
    ['GET /index.html 200', 'GET /big.txt 200', 'GET /missing 404', 'GET /blob.bin 200', 'GET /index.html?q=a+b&q=c 200', 'HEAD /big.txt 200', 'POST /echo 201', 'POST /echo 201', 'GET /index.html 200'],
  );
  assert.equal(es[0].id, 'node-a/000000000001-0');
  assert.equal(es[1].id, 'node-a/000000000001-1');
  assert.deepEqual(es[4].request.queryString, { q: ['a b', 'c'] });
  assert.match(r.stderr, /packets 61 \(18\.8 kB\)\s+flows 5\s+entries 9\s+gaps 0/);
  assert.match(r.stderr, /packets\/s/);
});

test('every thread count gives the same entries (a connection never spans two threads)', () => {
  const want = entries(tapline(['read', NGINX, '--workers', '0']).stdout).map(keyOf).sort();
  for (const w of ['1', '2', '3', '4', '5']) {
    const r = tapline(['read', DNS, '--workers', w]);
    const single = entries(tapline(['read', DNS, '--workers', '0']).stdout).map(keyOf).sort();
    assert.deepEqual(entries(r.stdout).map(keyOf).sort(), single, `dns, ${w} workers`);
    assert.deepEqual(entries(tapline(['read', NGINX, '--workers', w]).stdout).map(keyOf).sort(), want, `nginx, ${w} workers`);
  }
});

test('the output does not depend on which thread was quicker: one worker prints what the reading thread alone does, several the same bytes every run', () => {
  for (const file of [NGINX, DNS]) {
    const alone = tapline(['read', file, '--workers', '0']);
    assert.equal(alone.code, 0, alone.stderr);
    assert.equal(tapline(['read', file, '--workers', '1']).stdout, alone.stdout);
    const three = tapline(['read', file, '--workers', '3']).stdout;
    assert.equal(entries(three).length, entries(alone.stdout).length);
    for (let run = 0; run < 4; run++) assert.equal(tapline(['read', file, '--workers', '3']).stdout, three, `run ${run}`);
  }
});

test('standard input and gzip-compressed files read the same as the plain file', () => {
  const plain = tapline(['read', NGINX, '--workers', '0']).stdout;
  const dir = mkdtempSync(join(tmpdir(), 'tapline-read-'));
  const gz = join(dir, 'nginx.pcap.gz');
  writeFileSync(gz, gzipSync(readFileSync(NGINX)));
  assert.equal(tapline(['read', gz, '--workers', '0']).stdout, plain);
  assert.equal(tapline(['read', '-', '--workers', '0'], readFileSync(NGINX)).stdout, plain);
});

test('a file damaged part-way gives the entries before the damage, then an error naming the offset (exit 1)', () => {
  const bytes = readFileSync(NGINX);
  const dir = mkdtempSync(join(tmpdir(), 'tapline-read-'));
  const cut = join(dir, 'cut.pcap');
  // Cut inside the last record: every packet before it is whole.
  writeFileSync(cut, bytes.subarray(0, bytes.length - 10));
  const r = tapline(['read', cut, '--workers', '0']);
  assert.equal(r.code, 1);
  assert.ok(entries(r.stdout).length >= 8, r.stdout);
  assert.match(r.stderr, new RegExp(`${cut.replace(/[.]/g, '\\.')}: .*at byte offset \\d+.*\\[capture\\.truncated_file\\]`));
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'not a capture\n');
  const t = tapline(['read', text]);
  assert.equal(t.code, 1);
  assert.match(t.stderr, /neither pcap nor pcapng \(at byte offset 0\) \[capture\.unknown_format\]/);
  const missing = tapline(['read', join(dir, 'nope.pcap')]);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, `tapline read: ${join(dir, 'nope.pcap')}: no such file\n`, 'the error alone, no summary of nothing');
  // A directory was read as a stream until the read failed, and the process died of EISDIR.
  for (const format of ['jsonl', 'table']) {
    const folder = tapline(['read', dir, '--format', format]);
    assert.equal(folder.code, 1);
    assert.equal(folder.stdout, '', 'not even the table header');
    assert.equal(folder.stderr, `tapline read: ${dir}: a directory, not a capture file\n`);
  }
});

test('--kfl filters, limit(n) holds across threads, and a bad query shows a caret under its span (exit 2)', () => {
  const notFound = tapline(['read', NGINX, '--kfl', 'http and response.status == 404']);
  assert.deepEqual(entries(notFound.stdout).map((e) => e.request.path), ['/missing']);
  for (const w of ['0', '2']) {
    const limited = tapline(['read', NGINX, '--workers', w, '--kfl', 'http and limit(3)', '--summary-json']);
    assert.equal(entries(limited.stdout).length, 3, `workers ${w}`);
    assert.equal(JSON.parse(limited.stderr.split('\n')[0]).printed, 3);
  }
  const bad = tapline(['read', NGINX, '--kfl', 'http and response.status == ']);
  assert.equal(bad.code, 2);
  const lines = bad.stderr.split('\n');
  const at = lines.findIndex((l) => l.includes('http and response.status =='));
  assert.ok(at >= 0, bad.stderr);
  assert.match(lines[at + 1], /^\s*\^/);
});

test('table format, named limits and usage errors', () => {
  const t = tapline(['read', DNS, '--format', 'table', '--workers', '0']);
  assert.equal(t.code, 0);
  const rows = t.stdout.trim().split('\n');
  assert.match(rows[0], /^TIME \(UTC\)\s+PROTO\s+SOURCE/);
  assert.ok(rows.slice(1).every((r) => / DNS /.test(r)), t.stdout);
  assert.ok(rows.some((r) => /NXDOMAIN/.test(r)), t.stdout);

  const limits = tapline(['read', '--limits']);
  assert.match(limits.stdout, /^http\.maxHeaderBytes=65536$/m);
  assert.match(limits.stdout, /^reassembly\.maxFlows=200000$/m);
  const small = tapline(['read', NGINX, '--workers', '0', '--set', 'http.maxHeaderBytes=100', '--summary-json']);
  assert.ok(JSON.parse(small.stderr.split('\n')[0]).issues['http.header_too_long'] > 0, 'a limit hit is counted');
  const unknown = tapline(['read', NGINX, '--set', 'http.bogus=1']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown limit "http\.bogus".*\[config\.unknown_limit\]/);
  assert.equal(tapline(['read', NGINX, '--set', 'http.maxHeaders=x']).code, 2);
  assert.equal(tapline(['read']).code, 2);
  assert.equal(tapline(['read', NGINX, '--format', 'xml']).code, 2);
  const help = tapline(['read', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--kfl QUERY/);
});

test('a reader that goes away (| head) ends the command quietly', () => {
  const r = spawnSync('bash', ['-c', `node ${join(repoRoot, 'bin/tapline.js')} read ${NGINX} | head -c 100 > /dev/null; echo "\${PIPESTATUS[0]}"`]);
  assert.equal(r.stdout.toString().trim(), '0', r.stderr.toString());
  assert.doesNotMatch(r.stderr.toString(), /EPIPE|Error/);
});

test('--filter reads only the packets a capture filter matches, on one thread or several; a bad one is exit 2', () => {
  const all = entries(tapline(['read', NGINX, '--workers', '0']).stdout);
  const port = all[0].src.port as number;
  const want = all.filter((e) => e.src.port === port || e.dst.port === port).map(keyOf).sort();
  assert.ok(want.length > 0 && want.length < all.length, `${want.length} of ${all.length}`);
  // Oracle for the packets: tshark's own dissection, by a display filter that picks the same ones.
  const tshark = spawnSync('tshark', ['-r', NGINX, '-Y', `tcp.port == ${port}`, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
  assert.equal(tshark.status, 0, tshark.stderr);
  const packets = tshark.stdout.trim().split('\n').length;
  for (const w of ['0', '2']) {
    const r = tapline(['read', NGINX, '--filter', `tcp port ${port}`, '--workers', w, '--summary-json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(entries(r.stdout).map(keyOf).sort(), want, `workers ${w}`);
    assert.equal(JSON.parse(r.stderr).packets, packets, `workers ${w}`);
  }
  const bad = tapline(['read', NGINX, '--filter', 'tcp port']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /^tapline read: bad capture filter 'tcp port': .* \[capture\.bad_filter\]\n$/);
});
