/**
 * The narrow interfaces the hub needs from the rest of the tap. The hub is written and
 * tested against these only; `tapline tap` plugs in the real entry store (src/store/),
 * packet ring (src/pcap/) and capture counters. Each method's contract is stated here
 * because the conformance suite (entry-source-conformance.ts) and the hub rely on it.
 */
import type { Entry } from '../entries/index.js';

export type EntryOrder = 'asc' | 'desc';

export interface EntryQuery {
  /** KFL text; '' or absent means every entry. */
  kfl?: string;
  /** ms since the epoch, inclusive: entries with `timestamp >= from`. */
  from?: number;
  /** ms since the epoch, exclusive: entries with `timestamp < to`. */
  to?: number;
  /** Page size; the hub always passes one (1 … HubLimits.maxPageSize). */
  limit?: number;
  /** An opaque cursor this source returned earlier; the next page goes on after it. */
  cursor?: string;
  /** By (timestamp, id); 'desc' is newest first. */
  order?: EntryOrder;
}

export interface EntryPage {
  entries: Entry[];
  /** Present when there may be more entries after this page (in `order`). */
  cursor?: string;
}

/** What the store says about itself (shown under `store` in /api/stats). */
export interface HubStoreStats {
  entries: number;
  bytes: number;
  /** Timestamps (ms) of the oldest and newest entry kept, when there is one. */
  oldest?: number;
  newest?: number;
  [extra: string]: unknown;
}

/**
 * The entry store, as the hub sees it.
 *
 * `query` applies the whole KFL query (push-down plan, match, `limit()`, `redact()`) and
 * throws `KflError` (src/kfl) when it is not valid, before returning anything. Paging is
 * keyset paging on (timestamp, id): an entry added while a client pages never makes an
 * entry already stored appear twice or be skipped. A cursor it did not make throws an
 * Error whose `code` is `'store.bad_cursor'`.
 */
export interface HubEntrySource {
  query(q: EntryQuery): EntryPage;
  get(id: string): Entry | undefined;
  stats(): HubStoreStats;
}

export interface PcapExportRequest {
  /** KFL: all packets of the connections of the matching entries. */
  kfl?: string;
  /** pcap-filter syntax, applied to the packets of the window. */
  filter?: string;
  /** ms since the epoch, inclusive / exclusive. */
  from: number;
  to: number;
}

/**
 * The packet ring, as the hub sees it. `exportPcap` writes one PCAPNG to `out` (it does
 * not end `out`; the hub does). It checks its inputs before writing a byte: a bad KFL
 * rejects with `KflError`, a bad capture filter with an Error whose `code` is
 * `'pcap.bad_filter'`. A failure after the first byte can only cut the download short.
 */
export interface HubPcapSource {
  exportPcap(req: PcapExportRequest, out: NodeJS.WritableStream): Promise<{ packets: number }>;
}

/**
 * Entries as they are made. `subscribe` returns the function that unsubscribes. The hub's
 * callback never throws and returns at once (it only queues), so publishers may call
 * subscribers synchronously in a loop. Each published entry is a fresh object that is not
 * changed afterwards (the hub serializes it once for all its clients, by identity).
 */
export interface HubLive {
  subscribe(onEntry: (entry: Entry) => void): () => void;
}

export interface HubDrops {
  /** Dropped by the kernel (pcap_stats ps_drop). */
  kernel: number;
  /** Dropped by the interface or its driver (pcap_stats ps_ifdrop). */
  interface: number;
  /** Dropped by Tapline itself when dissection could not keep up. */
  tapline: number;
}

/** Capture and pipeline totals since start (the tap's counters). */
export interface HubStatsSnapshot {
  packets: number;
  bytes: number;
  drops: HubDrops;
  /** Connections and UDP flows open now. */
  flows: number;
  entries: number;
  entriesByProtocol: Record<string, number>;
  [extra: string]: unknown;
}

export interface HubStats {
  snapshot(): HubStatsSnapshot;
}
