import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IssueCounter } from '../common/issues.js';
import { createDispatcher } from './dispatch.js';
import { createRegistry, ProtocolRegistrationError } from './registry.js';
import { sampleConn } from './conformance.js';
import { defaultParserSettings, defineProtocol, type ParsedItem } from './types.js';
import type { Direction } from '../reassembly/types.js';

/** A line protocol for the test: client lines start with "PING", answered by "PONG". */
const ping = defineProtocol({
  name: 'ping',
  transport: 'tcp',
  portHints: [7777],
  probe(data) {
    const want = Buffer.from('PING');
    const n = Math.min(data.length, 4);
    if (!data.subarray(0, n).equals(want.subarray(0, n))) return 'no';
    return n < 4 ? 'more' : 'match';
  },
  createParser(ctx) {
    const seen: string[] = [];
    return {
      onData(dir: Direction, data: Buffer) {
        const text = data.toString('latin1');
        if (dir === 0 && text.startsWith('HELO')) return ctx.violation('ping.not_ping');
        if (text === 'BOOM') throw new Error('parser bug');
        seen.push(`${dir}:${text}`);
        if (dir === 1) {
          ctx.emit({ protocol: { name: 'ping', version: '', abbr: 'PING', layer4: 'tcp' }, request: { seen: [...seen] }, requestSize: 0, responseSize: 0, startSec: 0, startNsec: 0, endSec: 0, endNsec: 0 });
          seen.length = 0;
        }
      },
      onGap() {},
      onClose() {},
    };
  },
  limits: {},
});

const never = defineProtocol({ name: 'never', transport: 'both', portHints: [], probe: () => 'no', createParser: () => ({ onData() {}, onGap() {}, onClose() {} }), limits: {} });

function setup() {
  const issues = new IssueCounter();
  const items: { item: ParsedItem; index: number }[] = [];
  const make = createDispatcher({
    registry: createRegistry([never, ping]),
    settings: defaultParserSettings,
    issues,
    detection: { maxProbeChunks: 3 },
    onItem: (_conn, item, index) => items.push({ item, index }),
  });
  return { issues, items, handler: make(sampleConn('tcp', 31337)) };
}

test('a protocol is found by content on an unhinted port, with the probe bytes replayed in order', () => {
  const { handler, items } = setup();
  handler.onData(0, Buffer.from('PI'), 1, 0); // too short to tell: held
  handler.onData(0, Buffer.from('NG a'), 1, 0);
  handler.onData(1, Buffer.from('PONG a'), 1, 0);
  handler.onData(0, Buffer.from('PING b'), 2, 0);
  handler.onData(1, Buffer.from('PONG b'), 2, 0);
  assert.deepEqual(items.map((i) => [i.index, i.item.request]), [
    [0, { seen: ['0:PI', '0:NG a', '1:PONG a'] }],
    [1, { seen: ['0:PING b', '1:PONG b'] }],
  ]);
});

test('junk before the first message (picked up mid-stream) is dropped and probing goes on at the next chunk', () => {
  const { handler, items, issues } = setup();
  handler.onData(1, Buffer.from('tail of an old body'), 1, 0);
  handler.onData(0, Buffer.from('PING x'), 1, 0);
  handler.onData(1, Buffer.from('PONG x'), 1, 0);
  assert.equal(items.length, 1);
  assert.deepEqual(items[0].item.request, { seen: ['0:PING x', '1:PONG x'] });
  assert.equal(issues.get('protocol.unknown'), 0);
});

test('a flow no probe recognises is given up after maxProbeChunks and counted once', () => {
  const { handler, items, issues } = setup();
  for (let i = 0; i < 5; i++) handler.onData(0, Buffer.from('GET / HTTP/1.1\r\n\r\n'), 1, 0);
  handler.onClose('fin', 2, 0);
  assert.equal(items.length, 0);
  assert.equal(issues.get('protocol.unknown'), 1);
});

test('a violation stops the parser; a parser that throws is stopped and counted, never rethrown', () => {
  const a = setup();
  a.handler.onData(0, Buffer.from('PING 1'), 1, 0);
  a.handler.onData(0, Buffer.from('HELO'), 1, 0);
  a.handler.onData(1, Buffer.from('PONG 1'), 1, 0);
  assert.equal(a.items.length, 0);
  assert.equal(a.issues.get('ping.not_ping'), 1);
  assert.equal(a.issues.get('protocol.violation'), 1);

  const b = setup();
  b.handler.onData(0, Buffer.from('PING 1'), 1, 0);
  assert.doesNotThrow(() => b.handler.onData(1, Buffer.from('BOOM'), 1, 0));
  b.handler.onData(1, Buffer.from('PONG 1'), 1, 0);
  assert.equal(b.issues.get('ping.parser_exception'), 1);
  assert.equal(b.items.length, 0);
});

test('a gap while probing drops the bytes before it', () => {
  const { handler, items } = setup();
  handler.onData(0, Buffer.from('PI'), 1, 0);
  handler.onGap(0, 100, 1, 0);
  handler.onData(0, Buffer.from('PING z'), 1, 0);
  handler.onData(1, Buffer.from('PONG z'), 1, 0);
  assert.deepEqual(items[0].item.request, { seen: ['0:PING z', '1:PONG z'] });
});

test('the registry refuses duplicates, bad names and bad limits with coded errors, and orders candidates by port hints', () => {
  const codeOf = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof ProtocolRegistrationError);
      return e.code;
    }
    return 'none';
  };
  assert.equal(codeOf(() => createRegistry([ping, ping])), 'registry.duplicate');
  assert.equal(codeOf(() => createRegistry([{ ...ping, name: 'Bad Name' }])), 'registry.bad_name');
  assert.equal(codeOf(() => createRegistry([{ ...ping, limits: { x: -1 } }])), 'registry.bad_limit');
  const reg = createRegistry([never, ping]);
  assert.deepEqual(reg.candidates('tcp', 40000, 7777).map((d) => d.name), ['ping', 'never']);
  assert.deepEqual(reg.candidates('tcp', 40000, 80).map((d) => d.name), ['never', 'ping']);
  assert.deepEqual(reg.candidates('udp', 40000, 7777).map((d) => d.name), ['never']);
});
