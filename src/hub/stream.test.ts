import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { WebSocket } from 'ws';
import type { Entry } from '../entries/index.js';
import { createHub, startHub, type HubOptions } from './hub.js';
import { createMemoryEntrySource, createMemoryLive, createMemoryPcap, createMemoryStats } from './memory-sources.js';
import { parsePromText } from './prom-text.js';
import { testEntry } from './test-entries.js';

const TOKEN = 'stream-test-token';

type Message =
  | { type: 'ready'; query: string; warnings: unknown[] }
  | { type: 'entry'; entry: Entry }
  | { type: 'dropped'; count: number }
  | { type: 'error'; error: { code: string; message: string; span?: unknown; kflCode?: string } };

async function startTestHub(over: Partial<HubOptions> = {}) {
  const live = createMemoryLive();
  const registry = new Registry();
  const app = createHub({
    entries: createMemoryEntrySource(),
    pcap: createMemoryPcap(Buffer.alloc(0), 0),
    live,
    stats: createMemoryStats({ packets: 0, bytes: 0, drops: { kernel: 0, interface: 0, tapline: 0 }, flows: 0, entries: 0, entriesByProtocol: {} }),
    token: TOKEN,
    metrics: registry,
    ...over,
  });
  const { url } = await startHub(app, { host: '127.0.0.1', port: 0 });
  return { app, live, registry, wsUrl: url.replace(/^http/, 'ws') };
}

/** A client that keeps every message; `next()` resolves with the next one in order. */
function connect(url: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) {
  const ws = new WebSocket(url, { headers });
  const inbox: Message[] = [];
  const waiting: ((m: Message) => void)[] = [];
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as Message;
    const w = waiting.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  const closed = once(ws, 'close') as Promise<[number, Buffer]>;
  return {
    ws,
    closed,
    next(): Promise<Message> {
      const m = inbox.shift();
      return m ? Promise.resolve(m) : new Promise((resolve) => waiting.push(resolve));
    },
    /** A ping/pong round trip: everything the hub did before answering it is done. */
    async roundTrip(): Promise<void> {
      ws.ping();
      await once(ws, 'pong');
    },
  };
}

const streamUrl = (base: string, kfl?: string) => base + '/api/stream' + (kfl === undefined ? '' : '?kfl=' + encodeURIComponent(kfl));

describe('live stream', () => {
  test('delivers exactly the matching entries published after subscribing, in order', async () => {
    const { app, live, wsUrl } = await startTestHub();
    try {
      live.publish(testEntry(1, { status: 500 })); // before anyone listens: never delivered
      const c = connect(streamUrl(wsUrl, 'http and response.status >= 500'));
      // The macro `http` expanded: the client sees what is being matched.
      assert.deepEqual(await c.next(), { type: 'ready', query: 'protocol.name == "http" and response.status >= 500', warnings: [] });
      assert.equal(live.subscribers, 1);

      const published = Array.from({ length: 40 }, (_, n) =>
        testEntry(100 + n, { protocol: n % 5 === 0 ? 'dns' : 'http', status: n % 3 === 0 ? 503 : 200 }),
      );
      for (const e of published) live.publish(e);
      // A last matching entry marks the end: nothing may come between the expected ones and it.
      const sentinel = testEntry(999, { status: 500 });
      live.publish(sentinel);

      const expected = published.filter((e) => e.protocol.name === 'http' && (e.response as { status: number }).status >= 500);
      assert.equal(expected.length, 11);
      for (const e of [...expected, sentinel]) assert.deepEqual(await c.next(), { type: 'entry', entry: e });
      c.ws.close();
      await c.closed;
      await live.whenSubscribers(0);
    } finally {
      await app.close();
    }
  });

  test('no KFL streams every entry; redact() blanks fields per client', async () => {
    const { app, live, wsUrl } = await startTestHub();
    try {
      const all = connect(streamUrl(wsUrl), { authorization: `Bearer ${TOKEN}` });
      const redacted = connect(streamUrl(wsUrl, 'redact("request.path", "src.ip")') + '&token=' + TOKEN, {});
      await all.next();
      await redacted.next();
      const e = testEntry(5, { protocol: 'dns' });
      const h = testEntry(6);
      live.publish(e);
      live.publish(h);
      assert.deepEqual(await all.next(), { type: 'entry', entry: e });
      assert.deepEqual(await all.next(), { type: 'entry', entry: h });
      assert.deepEqual(await redacted.next(), { type: 'entry', entry: { ...e, src: { ...e.src, ip: '[REDACTED]' } } });
      assert.deepEqual(await redacted.next(), {
        type: 'entry',
        entry: { ...h, src: { ...h.src, ip: '[REDACTED]' }, request: { ...h.request, path: '[REDACTED]' } },
      });
      // The publisher's object is untouched.
      assert.equal(h.src.ip, '10.1.2.3');
    } finally {
      await app.close();
    }
  });

  test('a bad KFL query: one JSON error message with the span, then close 4400, no subscription', async () => {
    const { app, live, wsUrl } = await startTestHub();
    try {
      const c = connect(streamUrl(wsUrl, 'dns and request.id =='));
      assert.deepEqual(await c.next(), {
        type: 'error',
        error: {
          code: 'api.bad_kfl',
          message: "expected a value after '==', found the end of the query",
          param: 'kfl',
          span: { start: 21, end: 21, line: 1, column: 22 },
          kflCode: 'kfl.expected_value',
        },
      });
      const [code, reason] = await c.closed;
      assert.equal(code, 4400);
      assert.equal(String(reason), 'api.bad_kfl');
      assert.equal(live.subscribers, 0);
    } finally {
      await app.close();
    }
  });

  test('without the token the upgrade is refused with 401', async () => {
    const { app, live, wsUrl } = await startTestHub();
    try {
      for (const headers of [{}, { authorization: 'Bearer nope' }]) {
        const ws = new WebSocket(streamUrl(wsUrl, 'http'), { headers });
        ws.on('error', () => {}); // terminate() below aborts the handshake
        const [, res] = (await once(ws, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
        assert.equal(res.statusCode, 401);
        const chunks: Buffer[] = [];
        for await (const c of res) chunks.push(c as Buffer);
        assert.equal(JSON.parse(Buffer.concat(chunks).toString()).error.code, 'api.unauthorized');
        ws.terminate();
      }
      assert.equal(live.subscribers, 0);
    } finally {
      await app.close();
    }
  });

  test('a slow client: its queue stays bounded, the oldest entries are dropped and counted, it is told how many', async () => {
    const { app, live, registry, wsUrl } = await startTestHub({
      // One message on the wire at a time, five waiting.
      limits: { stream: { maxInFlightBytes: 1, maxQueued: 5, maxQueuedBytes: 1 << 20 } },
    });
    try {
      const c = connect(streamUrl(wsUrl, 'http'));
      assert.equal((await c.next()).type, 'ready');
      await c.roundTrip(); // the ready message has left: nothing is in flight
      // 100 entries in one synchronous burst, as a batch from a worker arrives: the
      // socket cannot take any of them before the burst ends.
      const burst = Array.from({ length: 100 }, (_, n) => testEntry(n));
      for (const e of burst) live.publish(e);

      // The first went out at once; 1–94 were dropped for 95–99, the five newest.
      assert.deepEqual(await c.next(), { type: 'entry', entry: burst[0] });
      assert.deepEqual(await c.next(), { type: 'dropped', count: 94 });
      for (const e of burst.slice(95)) assert.deepEqual(await c.next(), { type: 'entry', entry: e });

      const after = testEntry(500);
      live.publish(after);
      assert.deepEqual(await c.next(), { type: 'entry', entry: after });

      const stats = (await app.inject({ url: '/api/stats', headers: { authorization: `Bearer ${TOKEN}` } })).json();
      assert.deepEqual(stats.stream, { clients: 1, dropped: 94 });
      const metrics = parsePromText(await registry.metrics());
      assert.equal(metrics.get('tapline_stream_dropped_total')!.samples[0].value, 94);
      assert.equal(metrics.get('tapline_stream_clients')!.samples[0].value, 1);
    } finally {
      await app.close();
    }
  });

  test('beyond maxStreamClients a client gets api.too_many_streams and close 1013; a freed place is taken again', async () => {
    const { app, live, wsUrl } = await startTestHub({ limits: { maxStreamClients: 1 } });
    try {
      const first = connect(streamUrl(wsUrl));
      assert.equal((await first.next()).type, 'ready');
      const second = connect(streamUrl(wsUrl));
      assert.deepEqual(await second.next(), {
        type: 'error',
        error: { code: 'api.too_many_streams', message: 'at most 1 live-stream clients at once' },
      });
      assert.equal((await second.closed)[0], 1013);

      first.ws.close();
      await first.closed;
      await live.whenSubscribers(0);
      const third = connect(streamUrl(wsUrl));
      assert.equal((await third.next()).type, 'ready');
    } finally {
      await app.close();
    }
  });

  test('a plain GET on the stream route: 426 api.upgrade_required', async () => {
    const { app } = await startTestHub();
    try {
      const res = await app.inject({ url: '/api/stream?kfl=http', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.statusCode, 426);
      assert.equal(res.headers.upgrade, 'websocket');
      assert.equal(res.json().error.code, 'api.upgrade_required');
      assert.equal((await app.inject({ url: '/api/stream' })).statusCode, 401);
    } finally {
      await app.close();
    }
  });

  test('closing the hub closes the streams and ends their subscriptions', async () => {
    const { app, live, wsUrl } = await startTestHub();
    const c = connect(streamUrl(wsUrl));
    assert.equal((await c.next()).type, 'ready');
    await app.close();
    const [code] = await c.closed;
    assert.equal(code, 1001);
    await live.whenSubscribers(0);
  });
});
