import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { RawPacket } from '../capture/types.js';
import { readCaptureFile } from '../capture/index.js';
import { fileErrorText } from '../common/file-errors.js';
import { checkFilterExpression, keepPackets, openLiveCapture, packetFilter, type LiveCapture, type PacketFilter } from '../capture/live/index.js';
import type { Entry } from '../entries/index.js';
import { compile } from '../kfl/index.js';
import { storeParserSettings } from '../protocols/types.js';
import { createParallelPipeline, type FlowPipelineSettings, type LimitOverrides, type PipelineSummary } from '../pipeline/index.js';
import { decodeEntries, openEntryStore, type EntryStore } from '../store/index.js';
import { BufferPool } from '../common/buffer-pool.js';
import { batchGarbage } from './batch-garbage.js';
import { openPacketRing, flowsFromEntries, type PacketRing } from '../pcap/index.js';
import { createHub, createTapMetrics, loadOrCreateToken, startHub, type HubEntrySource, type HubLive, type HubPcapSource, type HubStatsSnapshot } from '../hub/index.js';
import type { TapWorkerMessage } from './tap-worker.js';
import { siblingModule } from '../common/worker.js';
import { DataDirError, lockDataDir } from './data-lock.js';
import { makeDirs, NotAFolderError } from '../common/make-dirs.js';

export type TapSource =
  | {
      kind: 'live';
      interfaces: string[] | 'any';
      filter?: string;
      snaplen?: number;
      bufferBytes?: number;
      promiscuous?: boolean;
      /** Capture inside this network namespace (a name under /run/netns or /proc/PID/ns/net); the API stays where the tap runs. */
      netns?: string;
    }
  | {
      kind: 'file';
      path: string;
      /** 0 or absent: as fast as possible; 1: real time; 2: twice as fast … */
      speed?: number;
      /** Only the file's packets this capture filter (pcap-filter syntax) matches, as `tcpdump -r FILE EXPR` keeps. */
      filter?: string;
    };

export interface TapOptions {
  source: TapSource;
  dataDir: string;
  listen: { host: string; port: number };
  /** The API token; made once and kept in the data folder when absent. */
  token?: string;
  workers: number;
  nodeName: string;
  limits: LimitOverrides;
  retention: { maxAgeSec: number; maxBytes: number };
  ring: { maxAgeSec: number; maxBytes: number };
  /**
   * Memory the dissection threads may use together (bytes). Their heaps are capped at
   * their share, and the flow table and reassembly buffers of each are sized to fit in it,
   * so a flood of connections is met by evicting flows, not by growing.
   */
  memoryBytes: number;
  /** Called for every entry as it is stored (the terminal view). */
  onEntry?(entry: Entry): void;
  /** Called once a file source has been read to its end. */
  onSourceEnd?(summary: PipelineSummary | undefined, error?: Error): void;
}

export interface Tap {
  url: string;
  token: string;
  tokenCreated: boolean;
  store: EntryStore;
  ring: PacketRing;
  stats(): HubStatsSnapshot;
  stop(): Promise<void>;
}

/** Bytes per batch handed to a dissection thread. */
const DISSECTION_BATCH_BYTES = 256 * 1024;
/** Packet bytes waiting for dissection, at most, over all threads (the kernel buffer's default size); past it packets are dropped and counted. */
const IN_FLIGHT_BYTES = 32 << 20;
/** What a live capture batch holds at most (the addon's default batchBytes). */
const CAPTURE_BATCH_BYTES = 1 << 20;

/**
 * `tapline tap` on one machine: capture (live or from a file) → ring of raw packets →
 * dissection threads → entry store, live stream and the hub API.
 */
export async function startTap(opts: TapOptions): Promise<Tap> {
  // A bad filter is refused before anything is made (capture.bad_filter): a file's for
  // Ethernet and each link type it meets; a live one if it fits no link type a live
  // capture can have (then each interface's own when the capture opens).
  const fileFilter = opts.source.kind === 'file' && opts.source.filter !== undefined ? packetFilter(opts.source.filter) : undefined;
  if (opts.source.kind === 'live' && opts.source.filter !== undefined) checkFilterExpression(opts.source.filter);
  try {
    makeDirs(opts.dataDir, 0o700);
  } catch (e) {
    const why = e instanceof NotAFolderError ? e.message : (fileErrorText(e) ?? (e as Error).message);
    throw new DataDirError(`cannot make the data folder ${opts.dataDir}: ${why}`);
  }
  // Before anything in the folder is opened: a second tap on it is refused (data-lock.ts).
  const lock = lockDataDir(opts.dataDir);
  let store: EntryStore;
  let ring: PacketRing;
  let token: string;
  let created: boolean;
  try {
    ({ token, created } = opts.token ? { token: opts.token, created: false } : loadOrCreateToken(opts.dataDir));
    store = openEntryStore({ dir: join(opts.dataDir, 'entries'), retention: opts.retention });
    try {
      ring = openPacketRing({ dir: join(opts.dataDir, 'ring'), maxBytes: opts.ring.maxBytes, maxAgeSec: opts.ring.maxAgeSec });
    } catch (e) {
      await store.close();
      throw e;
    }
  } catch (e) {
    lock.release();
    throw e;
  }

  const subscribers = new Set<(e: Entry) => void>();
  const live: HubLive = {
    subscribe(onEntry) {
      subscribers.add(onEntry);
      return () => subscribers.delete(onEntry);
    },
  };

  const counters = { packets: 0, bytes: 0, entries: 0, byProtocol: {} as Record<string, number>, flowsByWorker: [] as number[] };
  const settings: FlowPipelineSettings = {
    nodeName: opts.nodeName,
    // The dissection thread does as little as the store allows (storeParserSettings): gzip
    // bodies are decoded when their entries are read (README.md "Deferred gzip bodies"),
    // body texts stay bytes, DNS messages and HTTP heads are written in place of their JSON.
    settings: { ...storeParserSettings, ...opts.limits.settings },
    reassemblyLimits: opts.limits.reassemblyLimits,
    protocolLimits: opts.limits.protocolLimits,
    detection: opts.limits.detection,
  };
  const isLive = opts.source.kind === 'live';
  const budget = dissectionBudget(opts.memoryBytes, opts.workers);
  settings.reassemblyLimits = { maxFlows: budget.maxFlows, maxBufferedTotal: budget.maxBufferedTotal, ...settings.reassemblyLimits };
  /**
   * Live batches back from dissection, or not taken by it: the capture copies the next
   * batches into them (LiveCaptureOptions.takeBuffer). At most as many as full batches
   * can be in flight; the rest are let go.
   */
  const spareBatches = new BufferPool(Math.ceil(IN_FLIGHT_BYTES / CAPTURE_BATCH_BYTES));
  const pipeline = createParallelPipeline({
    workerResourceLimits: { maxOldGenerationSizeMb: budget.heapMb, maxYoungGenerationSizeMb: 16 },
    workers: opts.workers,
    workerUrl: siblingModule(import.meta.url, 'tap-worker'),
    settings,
    // Numbered after what the store holds, so that entries made after a restart do not
    // repeat the ids of stored ones (the store keeps the first of an id and drops the rest).
    firstStreamId: store.maxStream() + 1,
    sinkData: null,
    decodeLimits: opts.limits.decodeLimits,
    dropWhenBehind: isLive,
    // A live source cannot wait, so the only buffer between capture and dissection is what is
    // in flight: 8 batches (2 MiB, ~0.1 s at 20 MB/s) dropped packets whenever a busy host
    // left a dissection thread unscheduled for a moment. Bound it by bytes instead, the
    // same order as the kernel's capture buffer, shared by all threads.
    maxInFlight: Math.max(8, Math.floor(IN_FLIGHT_BYTES / DISSECTION_BATCH_BYTES / Math.max(1, opts.workers))),
    batchBytes: DISSECTION_BATCH_BYTES,
    // A live batch, once dissected, comes back here to be filled again (spareBatches).
    onBatchBack: isLive ? (buffer) => void spareBatches.give(buffer) : undefined,
    onFailure(err) {
      process.stderr.write(`tapline tap: a dissection thread failed (${err.message}); its packets are dropped from now on (drops.tapline)\n`);
    },
    onSinkMessage(message, worker) {
      const m = message as TapWorkerMessage;
      counters.flowsByWorker[worker] = m.flows;
      if (m.rows.count === 0) return;
      counters.entries += m.rows.count;
      for (const [name, n] of Object.entries(m.byProtocol)) counters.byProtocol[name] = (counters.byProtocol[name] ?? 0) + n;
      // Entries are parsed back only for someone watching; the rows go to the store as they came.
      const watched = subscribers.size > 0 || opts.onEntry !== undefined ? decodeEntries(m.rows) : [];
      store.addEncoded(m.rows);
      for (const entry of watched) {
        for (const s of subscribers) s(entry);
        opts.onEntry?.(entry);
      }
    },
  });

  // A file's packet time, for the flow tables' clock (below): the latest packet read, and
  // the file time that wall time maps to once packets are paced or the file has ended.
  let lastFileMs = -Infinity;
  let fileClock: FileClock | undefined;
  const onPacket = (p: RawPacket) => {
    const ms = p.tsSec * 1000 + p.tsNsec / 1e6;
    if (ms > lastFileMs) lastFileMs = ms;
    counters.packets++;
    counters.bytes += p.capLen;
    ring.write(p);
    pipeline.push(p);
  };

  let capture: LiveCapture | undefined;
  let stopping = false;
  let sourceDone: Promise<void> = Promise.resolve();
  // Part-filled batches go to the dissection threads on this timer only, not after every
  // capture batch: at high rates that sent many small batches (copied, one message each),
  // and the live benchmark's loss-free rate went from 160k pps in 3 runs of 6 to 3 of 3
  // without it. A quiet link's packets wait at most one tick more.
  const flushTimer = setInterval(() => {
    pipeline.flushPartial();
    ring.flush();
  }, 50);
  // Time goes on when no packet comes: once a second the flow tables are told the time, so a
  // request or DNS query with no answer becomes its pair-not-found entry after the pair
  // time-out even on a quiet link, and idle flows close. Live, it is the wall clock, late
  // by CLOCK_LAG_MS so that packets still in the kernel's buffer are not overtaken; a
  // file's time goes on at the replay speed, and after its end at 1×.
  const clockTimer = setInterval(() => {
    const ms = isLive ? Date.now() - CLOCK_LAG_MS : fileClock === undefined ? undefined : fileClock.fileMs + (Date.now() - fileClock.wallMs) * fileClock.rate;
    if (ms === undefined || !Number.isFinite(ms) || ms < 0) return;
    const sec = Math.floor(ms / 1000);
    pipeline.advance(sec, Math.round((ms - sec * 1000) * 1e6));
  }, 1000);

  const openLive = (src: Extract<TapSource, { kind: 'live' }>): LiveCapture => {
    const interfaceIds = new Map<string, number>();
    const garbage = batchGarbage();
    return openLiveCapture({
      interfaces: src.interfaces,
      filter: src.filter,
      snaplen: src.snaplen,
      bufferBytes: src.bufferBytes,
      promiscuous: src.promiscuous,
      netns: src.netns,
      // A batch is handled whole: the ring stores its records, then it goes to dissection
      // (whole, to a single dissection thread), with no object made per packet here.
      onBatch(batch, linkType, tsResolution, interfaceName) {
        let interfaceId = interfaceIds.get(interfaceName);
        if (interfaceId === undefined) {
          interfaceId = interfaceIds.size;
          interfaceIds.set(interfaceName, interfaceId);
        }
        const nanos = tsResolution === 'ns';
        const { packets, bytes } = ring.writeRecords(batch, linkType, nanos, interfaceId);
        counters.packets += packets;
        counters.bytes += bytes;
        // The capture gives every batch an ArrayBuffer of its own (LiveCaptureOptions.onBatch):
        // one dissection did not take is a spare again, or garbage when there are enough.
        if (!pipeline.pushRecords(batch, linkType, nanos, interfaceId, true) && !spareBatches.give(batch.buffer as ArrayBuffer)) garbage.add(batch.length);
      },
      takeBuffer: (bytes) => spareBatches.take(bytes),
      onError(err) {
        process.stderr.write(`tapline tap: capture: ${err.message}\n`);
      },
    });
  };

  const snapshot = (): HubStatsSnapshot & { capture?: { batches: number; stalls: number } } => {
    const cs = capture?.stats();
    return {
      packets: counters.packets,
      bytes: counters.bytes,
      drops: { kernel: cs?.droppedByKernel ?? 0, interface: cs?.droppedByInterface ?? 0, tapline: pipeline.droppedByTapline },
      // A live capture's batches, and the times it waited for this thread to take them (TapTotals.captureStalls).
      ...(cs ? { capture: { batches: cs.batches, stalls: cs.stalls } } : {}),
      flows: counters.flowsByWorker.reduce((a, b) => a + b, 0),
      entries: counters.entries,
      entriesByProtocol: { ...counters.byProtocol },
      ring: ring.stats(),
    };
  };

  const metrics = new Registry();
  createTapMetrics(metrics, {
    totals: () => {
      const s = snapshot();
      const st = store.stats();
      const rs = ring.stats();
      return {
        ...s,
        captureStalls: s.capture?.stalls,
        store: { entries: st.entries, bytes: st.bytes, evicted: st.expired, pending: st.pending, pendingBytes: st.pendingBytes, dropped: st.dropped, failed: st.failed },
        ring: { bytes: rs.diskBytes, segments: rs.segments, packets: rs.packets },
      };
    },
  });

  const pcap: HubPcapSource = {
    async exportPcap(req, out) {
      let filter: PacketFilter | undefined;
      if (req.filter !== undefined && req.filter !== '') {
        try {
          filter = packetFilter(req.filter); // checks the expression before a byte is written
        } catch (e) {
          // The hub's contract (HubPcapSource) names a bad filter 'pcap.bad_filter': a 400, not a 500.
          if ((e as { code?: string }).code === 'capture.bad_filter') throw Object.assign(new Error((e as Error).message), { code: 'pcap.bad_filter' });
          throw e;
        }
      }
      let flows;
      if (req.kfl !== undefined && req.kfl !== '') {
        compile(req.kfl); // a bad query rejects with KflError before anything is written
        await store.flush();
        flows = flowsFromEntries(store.iterate({ kfl: req.kfl, from: req.from, to: req.to, order: 'asc' }));
      }
      ring.flush();
      const what = [req.kfl ? `--kfl '${req.kfl}'` : '', req.filter ? `--filter '${req.filter}'` : ''].filter(Boolean).join(' ') || 'all packets';
      const comment = `tapline export ${what} from ${new Date(req.from).toISOString()} to ${new Date(req.to).toISOString()} (node ${opts.nodeName})`;
      const r = await ring.export({ from: req.from, to: req.to, flows, filter, comment }, out as unknown as import('node:stream').Writable);
      return { packets: r.packets };
    },
  };

  const entries: HubEntrySource = {
    query: (q) => store.query(q),
    get: (id) => store.get(id),
    stats() {
      const st = store.stats();
      return { ...st, oldest: st.oldest ?? undefined, newest: st.newest ?? undefined };
    },
  };
  let app: ReturnType<typeof createHub> | undefined;
  const teardown = async () => {
    stopping = true;
    await capture?.stop();
    await sourceDone;
    clearInterval(flushTimer);
    clearInterval(clockTimer);
    await pipeline.finish().catch(() => undefined);
    await app?.close();
    try {
      ring.close();
      await store.close();
    } finally {
      lock.release();
    }
  };

  let url: string;
  try {
    // The capture opens before the API binds, so a missing privilege fails before anything listens.
    if (opts.source.kind === 'live') capture = openLive(opts.source);
    app = createHub({ entries, pcap, live, stats: { snapshot }, token, metrics });
    ({ url } = await startHub(app, opts.listen));
  } catch (e) {
    // Without this the worker threads, the store's writer and the flush timer keep the process alive.
    await teardown().catch(() => undefined);
    throw e;
  }
  // A file is read only once the API answers, so a client sees its entries arrive.
  if (opts.source.kind === 'file') {
    sourceDone = readFileSource(opts.source, fileFilter, onPacket, () => stopping, pipeline.drained, (c) => (fileClock = c)).then(
      () => {
        fileClock ??= { fileMs: lastFileMs, wallMs: Date.now(), rate: 1 };
        opts.onSourceEnd?.(undefined);
      },
      (err) => opts.onSourceEnd?.(undefined, err as Error),
    );
  }

  return {
    url,
    token,
    tokenCreated: created,
    store,
    ring,
    stats: snapshot,
    async stop() {
      if (stopping) return;
      await teardown();
    },
  };
}

/**
 * How a memory budget is shared among N dissection threads: each gets an equal heap, and
 * its flow table and out-of-order buffers are sized to fit in about half of it (a flow
 * costs about 1.4 KB of live heap when it holds nothing but a handshake: measured under a
 * SYN flood), so the rest is room for garbage between collections.
 */
export function dissectionBudget(memoryBytes: number, workers: number): { heapMb: number; maxFlows: number; maxBufferedTotal: number } {
  const heapMb = Math.max(64, Math.floor(memoryBytes / Math.max(1, workers) / (1024 * 1024)));
  const heapBytes = heapMb * 1024 * 1024;
  return {
    heapMb,
    maxFlows: Math.max(1000, Math.floor((heapBytes * 0.4) / BYTES_PER_FLOW)),
    maxBufferedTotal: Math.floor(heapBytes * 0.1),
  };
}

const BYTES_PER_FLOW = 1400;

/** Wall time to file time: at wall time `wallMs` the file's time is `fileMs`, and it goes on `rate` times as fast. */
interface FileClock {
  fileMs: number;
  wallMs: number;
  rate: number;
}

/** How far behind the wall clock a live tap's flow tables are told the time. */
const CLOCK_LAG_MS = 2000;

/**
 * Reads a capture file through the live path; with a speed, paced by the packets' own
 * timestamps (`onPaced` gets the file clock that pacing follows); with a filter, only the
 * packets it matches.
 */
async function readFileSource(
  src: { path: string; speed?: number },
  filter: PacketFilter | undefined,
  deliver: (p: RawPacket) => void,
  stopped: () => boolean,
  drained: () => Promise<void> | undefined,
  onPaced: (clock: FileClock) => void,
): Promise<void> {
  const onPacket = keepPackets(deliver, filter);
  const speed = src.speed ?? 0;
  if (speed <= 0) {
    await readCaptureFile(src.path, onPacket, { beforeRead: () => (stopped() ? Promise.reject(new Error('stopped')) : drained()) }).catch((e) => {
      if (!stopped()) throw e;
    });
    return;
  }
  // Paced replay: packets of each chunk are copied, then released when their time comes.
  let queue: RawPacket[] = [];
  let firstPacketMs: number | undefined;
  let startedMs = 0;
  const release = async () => {
    for (const p of queue) {
      if (stopped()) return;
      const at = p.tsSec * 1000 + p.tsNsec / 1e6;
      if (firstPacketMs === undefined) {
        firstPacketMs = at;
        startedMs = Date.now();
        onPaced({ fileMs: firstPacketMs, wallMs: startedMs, rate: speed });
      }
      const due = startedMs + (at - firstPacketMs) / speed;
      const wait = due - Date.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      deliver(p);
    }
    queue = [];
  };
  await readCaptureFile(src.path, keepPackets((p) => void queue.push({ ...p, data: Buffer.from(p.data) }), filter), { chunkBytes: 256 * 1024, beforeRead: release });
  await release();
}
