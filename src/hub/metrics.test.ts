import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { createTapMetrics, tapMetricNames, type TapTotals } from './metrics.js';
import { parsePromText } from './prom-text.js';

const base: TapTotals = { packets: 0, bytes: 0, drops: { kernel: 0, interface: 0, tapline: 0 }, flows: 0, entriesByProtocol: {} };

async function values(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const f of parsePromText(await registry.metrics()).values()) {
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(',');
      out.set(labels ? `${s.name}{${labels}}` : s.name, s.value);
    }
  }
  return out;
}

describe('tap metrics', () => {
  test('every name is registered with its type; drops read 0 per source before any', async () => {
    const registry = new Registry();
    createTapMetrics(registry);
    const fams = parsePromText(await registry.metrics());
    assert.deepEqual([...fams.keys()].sort(), [...tapMetricNames].sort());
    for (const [name, f] of fams) assert.equal(f.type, name.endsWith('_total') ? 'counter' : 'gauge', name);
    const v = await values(registry);
    assert.equal(v.get('tapline_drops_total{source=kernel}'), 0);
    assert.equal(v.get('tapline_drops_total{source=interface}'), 0);
    assert.equal(v.get('tapline_drops_total{source=tapline}'), 0);
  });

  test('sync adds what the totals grew by; a total that went back (a worker restarted) is added whole', async () => {
    const registry = new Registry();
    const m = createTapMetrics(registry);
    m.sync({ ...base, packets: 10, entriesByProtocol: { http: 4 }, issues: { 'tcp.gap': 1 }, captureStalls: 2 });
    m.sync({ ...base, packets: 25, entriesByProtocol: { http: 6, dns: 2 }, issues: { 'tcp.gap': 1 }, captureStalls: 9 });
    m.packets.inc(5); // direct updates mix with sync
    m.sync({ ...base, packets: 3, entriesByProtocol: { http: 6, dns: 2 } });
    const v = await values(registry);
    assert.equal(v.get('tapline_packets_total'), 25 + 5 + 3);
    assert.equal(v.get('tapline_entries_total{protocol=http}'), 6);
    assert.equal(v.get('tapline_entries_total{protocol=dns}'), 2);
    assert.equal(v.get('tapline_issues_total{code=tcp.gap}'), 1);
    // A file source has no capture: the stalls stay where they were.
    assert.equal(v.get('tapline_capture_stalls_total'), 9);
  });

  test('with totals(), each scrape reads the totals once', async () => {
    const registry = new Registry();
    let calls = 0;
    createTapMetrics(registry, {
      totals: () => {
        calls++;
        return { ...base, packets: calls * 100, flows: 7 };
      },
    });
    assert.equal((await values(registry)).get('tapline_packets_total'), 100);
    assert.equal(calls, 1);
    const v = await values(registry);
    assert.equal(v.get('tapline_packets_total'), 200);
    assert.equal(v.get('tapline_flows_active'), 7);
    assert.equal(calls, 2);
  });

  test('registering twice in one registry fails at once', () => {
    const registry = new Registry();
    createTapMetrics(registry);
    assert.throws(() => createTapMetrics(registry), /already been registered/);
  });
});
