/**
 * The Prometheus metrics of a tap (served on /metrics). The names are part of the public
 * contract (dashboards and alerts are built on them), so they are defined here once and
 * listed in README.md. Counters only go up; a value that can go down is a gauge.
 *
 * The tap updates them either directly (`metrics.packets.inc(n)`) or by handing its
 * running totals to `sync(totals)`, which adds the difference since the last call. With
 * `createTapMetrics(registry, { totals })` the totals are read at every scrape, so the
 * numbers are never staler than the scrape.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { HubDrops } from './types.js';

/** Running totals since the tap started, as the pipeline and the store count them. */
export interface TapTotals {
  packets: number;
  bytes: number;
  drops: HubDrops;
  /** Open now. */
  flows: number;
  /** Ever started. */
  flowsSeen?: number;
  entriesByProtocol: Record<string, number>;
  tcpGaps?: number;
  tcpGapBytes?: number;
  /** Out-of-order bytes held now by reassembly. */
  reassemblyHeldBytes?: number;
  /** Reassembly limits hit, by limit name (tableFull, oooSegments, …). */
  reassemblyLimitHits?: Record<string, number>;
  /** Issue codes counted on the way (decode, reassembly, dissection), by code. */
  issues?: Record<string, number>;
  /**
   * Times the live capture's reading thread waited because every batch it fills was still
   * waiting for the capture thread's JavaScript: the kernel's buffer holds the packets
   * meanwhile, and drops.kernel grows once it is full.
   */
  captureStalls?: number;
  store?: {
    entries: number;
    bytes: number;
    evicted?: number;
    /** Entries made and waiting to be committed now, and the bytes of their stored form. */
    pending?: number;
    pendingBytes?: number;
    /** Entries the store refused because its queue was full (maxPendingEntries / maxPendingBytes). */
    dropped?: number;
    /** Entries lost to failed writes (disk full, I/O error). */
    failed?: number;
  };
  ring?: { bytes: number; segments: number; packets?: number };
}

export interface TapMetrics {
  packets: Counter<never>;
  bytes: Counter<never>;
  drops: Counter<'source'>;
  captureStalls: Counter<never>;
  flowsActive: Gauge<never>;
  flows: Counter<never>;
  tcpGaps: Counter<never>;
  tcpGapBytes: Counter<never>;
  reassemblyHeldBytes: Gauge<never>;
  reassemblyLimitHits: Counter<'limit'>;
  entries: Counter<'protocol'>;
  issues: Counter<'code'>;
  storeEntries: Gauge<never>;
  storeBytes: Gauge<never>;
  storeEvicted: Counter<never>;
  storePending: Gauge<never>;
  storePendingBytes: Gauge<never>;
  storeLost: Counter<'reason'>;
  ringBytes: Gauge<never>;
  ringSegments: Gauge<never>;
  ringPackets: Counter<never>;
  /** Brings the counters up to these totals and sets the gauges. */
  sync(totals: TapTotals): void;
}

/** The names, for documentation and tests. */
export const tapMetricNames = [
  'tapline_packets_total',
  'tapline_bytes_total',
  'tapline_drops_total',
  'tapline_capture_stalls_total',
  'tapline_flows_active',
  'tapline_flows_total',
  'tapline_tcp_gaps_total',
  'tapline_tcp_gap_bytes_total',
  'tapline_reassembly_held_bytes',
  'tapline_reassembly_limit_hits_total',
  'tapline_entries_total',
  'tapline_issues_total',
  'tapline_store_entries',
  'tapline_store_bytes',
  'tapline_store_evicted_total',
  'tapline_store_pending_entries',
  'tapline_store_pending_bytes',
  'tapline_store_lost_total',
  'tapline_ring_bytes',
  'tapline_ring_segments',
  'tapline_ring_packets_total',
] as const;

export const hubMetricNames = ['tapline_stream_clients', 'tapline_stream_dropped_total', 'tapline_api_requests_total'] as const;

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[], collect?: () => void): Counter<L> {
  return new Counter<L>({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
}

function gauge(registry: Registry, name: string, help: string, collect?: () => void): Gauge<never> {
  return new Gauge<never>({ name, help, registers: [registry], ...(collect ? { collect } : {}) });
}

/** Registers the tap's metrics in `registry` (throws if the names are already taken there). */
export function createTapMetrics(registry: Registry, opts: { totals?: () => TapTotals } = {}): TapMetrics {
  // Every metric's collect() runs in the same synchronous loop of registry.metrics();
  // the first one reads the totals once for all of them.
  let synced = false;
  const refresh = opts.totals
    ? (): void => {
        if (synced) return;
        synced = true;
        queueMicrotask(() => (synced = false));
        m.sync(opts.totals!());
      }
    : undefined;

  const last = new Map<string, number>();
  /** Adds to `c` what `total` has grown by since the last sync (all of it after a reset). */
  function bump<L extends string>(c: Counter<L>, key: string, total: number | undefined, labels?: Partial<Record<L, string>>): void {
    if (total === undefined || !Number.isFinite(total)) return;
    const before = last.get(key) ?? 0;
    const delta = total >= before ? total - before : total;
    last.set(key, total);
    if (delta <= 0) return;
    if (labels) c.inc(labels, delta);
    else c.inc(delta);
  }

  const m: TapMetrics = {
    packets: counter(registry, 'tapline_packets_total', 'Packets captured.', [], refresh),
    bytes: counter(registry, 'tapline_bytes_total', 'Bytes captured (original packet lengths).', [], refresh),
    drops: counter(registry, 'tapline_drops_total', 'Packets dropped, by where: kernel, interface (driver), tapline (dissection could not keep up).', ['source'], refresh),
    captureStalls: counter(
      registry,
      'tapline_capture_stalls_total',
      'Times the capture waited for the capture thread to take its batches; the kernel buffer holds packets meanwhile, and drops by the kernel follow once it is full.',
      [],
      refresh,
    ),
    flowsActive: gauge(registry, 'tapline_flows_active', 'TCP connections and UDP flows open now.', refresh),
    flows: counter(registry, 'tapline_flows_total', 'TCP connections and UDP flows ever started.', [], refresh),
    tcpGaps: counter(registry, 'tapline_tcp_gaps_total', 'Gaps in TCP streams (bytes never seen).', [], refresh),
    tcpGapBytes: counter(registry, 'tapline_tcp_gap_bytes_total', 'Bytes missing in TCP stream gaps.', [], refresh),
    reassemblyHeldBytes: gauge(registry, 'tapline_reassembly_held_bytes', 'Out-of-order TCP bytes held by reassembly now.', refresh),
    reassemblyLimitHits: counter(registry, 'tapline_reassembly_limit_hits_total', 'Reassembly limits hit, by limit.', ['limit'], refresh),
    entries: counter(registry, 'tapline_entries_total', 'Entries made, by protocol.', ['protocol'], refresh),
    issues: counter(registry, 'tapline_issues_total', 'Issues met in decoding, reassembly and dissection, by issue code.', ['code'], refresh),
    storeEntries: gauge(registry, 'tapline_store_entries', 'Entries kept in the store now.', refresh),
    storeBytes: gauge(registry, 'tapline_store_bytes', 'Bytes the entry store takes on disk now.', refresh),
    storeEvicted: counter(registry, 'tapline_store_evicted_total', 'Entries removed by retention (age or size).', [], refresh),
    storePending: gauge(registry, 'tapline_store_pending_entries', 'Entries made and waiting to be committed to the store now.', refresh),
    storePendingBytes: gauge(registry, 'tapline_store_pending_bytes', 'Bytes of the entries waiting to be committed now.', refresh),
    storeLost: counter(registry, 'tapline_store_lost_total', 'Entries made but never stored, by reason: queue_full (the store fell too far behind), write_failed (disk full, I/O error).', ['reason'], refresh),
    ringBytes: gauge(registry, 'tapline_ring_bytes', 'Bytes the packet ring takes on disk now.', refresh),
    ringSegments: gauge(registry, 'tapline_ring_segments', 'PCAPNG segment files in the packet ring now.', refresh),
    ringPackets: counter(registry, 'tapline_ring_packets_total', 'Packets written to the packet ring.', [], refresh),
    sync(t: TapTotals): void {
      bump(m.packets, 'packets', t.packets);
      bump(m.bytes, 'bytes', t.bytes);
      bump(m.drops, 'drops/kernel', t.drops.kernel, { source: 'kernel' });
      bump(m.drops, 'drops/interface', t.drops.interface, { source: 'interface' });
      bump(m.drops, 'drops/tapline', t.drops.tapline, { source: 'tapline' });
      bump(m.captureStalls, 'captureStalls', t.captureStalls);
      m.flowsActive.set(t.flows);
      bump(m.flows, 'flows', t.flowsSeen);
      bump(m.tcpGaps, 'tcpGaps', t.tcpGaps);
      bump(m.tcpGapBytes, 'tcpGapBytes', t.tcpGapBytes);
      if (t.reassemblyHeldBytes !== undefined) m.reassemblyHeldBytes.set(t.reassemblyHeldBytes);
      for (const [limit, n] of Object.entries(t.reassemblyLimitHits ?? {})) bump(m.reassemblyLimitHits, 'limit/' + limit, n, { limit });
      for (const [protocol, n] of Object.entries(t.entriesByProtocol)) bump(m.entries, 'entries/' + protocol, n, { protocol });
      for (const [code, n] of Object.entries(t.issues ?? {})) bump(m.issues, 'issue/' + code, n, { code });
      if (t.store) {
        m.storeEntries.set(t.store.entries);
        m.storeBytes.set(t.store.bytes);
        bump(m.storeEvicted, 'storeEvicted', t.store.evicted);
        if (t.store.pending !== undefined) m.storePending.set(t.store.pending);
        if (t.store.pendingBytes !== undefined) m.storePendingBytes.set(t.store.pendingBytes);
        bump(m.storeLost, 'storeLost/queue_full', t.store.dropped, { reason: 'queue_full' });
        bump(m.storeLost, 'storeLost/write_failed', t.store.failed, { reason: 'write_failed' });
      }
      if (t.ring) {
        m.ringBytes.set(t.ring.bytes);
        m.ringSegments.set(t.ring.segments);
        bump(m.ringPackets, 'ringPackets', t.ring.packets);
      }
    },
  };
  // Drops by every source are shown from the start, so "no drops" reads 0, not "no data".
  for (const source of ['kernel', 'interface', 'tapline']) m.drops.inc({ source }, 0);
  for (const reason of ['queue_full', 'write_failed']) m.storeLost.inc({ reason }, 0);
  return m;
}

/** The hub's own metrics (created by createHub in the registry it is given). */
export interface HubMetrics {
  streamClients: Gauge<never>;
  streamDropped: Counter<never>;
  requests: Counter<'route' | 'status'>;
}

export function createHubMetrics(registry: Registry): HubMetrics {
  return {
    streamClients: gauge(registry, 'tapline_stream_clients', 'Live-stream (WebSocket) clients connected now.'),
    streamDropped: counter(registry, 'tapline_stream_dropped_total', 'Live-stream messages dropped because a client read too slowly.', []),
    requests: counter(registry, 'tapline_api_requests_total', 'API requests answered, by route and status code.', ['route', 'status']),
  };
}
