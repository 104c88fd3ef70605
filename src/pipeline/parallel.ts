import { parentPort, workerData, type Worker } from 'node:worker_threads';
import { startWorker } from '../common/worker.js';
import { IssueCounter } from '../common/issues.js';
import { nameThread } from '../common/thread-name.js';
import type { RawPacket } from '../capture/types.js';
import { createDecoder, emptyDecodedPacket, flowHashAt, flowHashOf } from '../decode/index.js';
import type { DecodedPacket, DecodeLimits } from '../decode/types.js';
import type { Entry } from '../entries/index.js';
import { u32le } from '../common/bytes.js';
import { BatchWriter, readBatch, readRecords } from './packet-codec.js';
import { createFlowPipeline, type FlowPipelineSettings, type PipelineSummary } from './pipeline.js';

/**
 * Dissection on several threads, the way Suricata and Zeek scale: this thread hands each
 * packet, by a symmetric flow hash, to one of N worker threads (both directions of a
 * connection on the same one), packed in transferable batches. Each worker reassembles,
 * dissects and turns its entries into output.
 *
 * This thread only reads each packet's flow hash from its headers (decode/flow-hash.ts)
 * and sends the raw frame, which the worker decodes; only packets whose flow needs the
 * full decoder (IP fragments, tunnels, extension headers) are decoded here and travel
 * decoded. Measured in CPU seconds per thread (README.md "Threads"), the workers spend no
 * more than on decoded records, and this thread hands the benchmark capture out in 0.11 s
 * instead of 0.25 s. With one worker, a live capture's batches go to it whole
 * (pushRecords): nothing is done here per packet.
 */
export interface ParallelOptions {
  workers: number;
  /** The worker module: it calls `serveFlowWorker` (a .ts module runs through tsx: see startWorker). */
  workerUrl: URL;
  settings: FlowPipelineSettings;
  /** Passed to the worker's sink factory (plain data; SharedArrayBuffers are shared). */
  sinkData: unknown;
  /** Stream number of the first flow (default 1): thread i numbers its flows first + i, then on by N. */
  firstStreamId?: number;
  decodeLimits?: Partial<DecodeLimits>;
  /** Bytes per batch (default 256 KiB) and batches in flight per worker before `drained()` waits (default 8). */
  batchBytes?: number;
  maxInFlight?: number;
  /**
   * A live source cannot wait: when set, a packet whose thread already has maxInFlight
   * batches waiting is dropped and counted (`droppedByTapline`) instead of queued.
   */
  dropWhenBehind?: boolean;
  /** Send raw frames for the workers to decode (see above; the default). False: decode every packet here and send it decoded (kept for tests and the benchmark). */
  rawDispatch?: boolean;
  /**
   * What a worker's sink returns from `flush` (see EntrySink), and when: after one batch
   * (batches are answered in the order they left), a clock tick, or the end.
   */
  onSinkMessage?(message: unknown, worker: number, after: 'batch' | 'clock' | 'end'): void;
  /** A batch left for `worker` (its acknowledgement comes back through onSinkMessage, in the order they left). */
  onBatchSent?(worker: number): void;
  /**
   * Called once, when a dissection thread fails (e.g. out of memory). A reader learns it
   * from drained() or finish(); a live source calls neither while running, and without
   * this the tap went on dropping every packet of that thread without a word.
   */
  onFailure?(error: Error): void;
  /** V8 heap limits of each dissection thread (a thread past them dies and is reported through onFailure). */
  workerResourceLimits?: import('node:worker_threads').ResourceLimits;
  /**
   * With this, a record batch taken whole (pushRecords) comes back once its thread has
   * dissected it and its sink has flushed what it completed, for the source to fill again
   * (the live capture: src/tap/tap.ts). Nothing the dissection keeps may point into a
   * batch (batch-reuse.test.ts checks it).
   */
  onBatchBack?(buffer: ArrayBuffer): void;
}

export interface ParallelPipeline {
  /** Queues the packet for its flow's thread. */
  push(packet: RawPacket): void;
  /**
   * Queues every packet of a batch of bare pcap records (16-byte little-endian header,
   * then the frame: what the live capture delivers). Takes the batch: with one worker it
   * is transferred whole, so `batch` must not be used afterwards. A record cut short at
   * the end is counted (`capture.batch_cut`) and left out. Returns whether the batch was
   * taken (transferred); when not, the caller holds its only reference. `whole`: batch
   * starts an ArrayBuffer nothing else views, which is then transferred as it is, however
   * much longer it is than the batch (else only a buffer of exactly the batch is).
   */
  pushRecords(batch: Buffer, linkType: number, nanos: boolean, interfaceId: number, whole?: boolean): boolean;
  /** Sends every partly filled batch now (a live source calls it on a timer, so quiet traffic is not held back). */
  flushPartial(): void;
  /**
   * Time passes without packets (FlowTable.advance): each thread's flow table moves on to
   * this time after the packets already handed to it. A thread that is behind skips it:
   * its packets move its time.
   */
  advance(tsSec: number, tsNsec: number): void;
  /** Packets dropped because dissection could not keep up (only with dropWhenBehind). */
  readonly droppedByTapline: number;
  /** A promise when the workers are behind (the reader should wait), else undefined. */
  drained(): Promise<void> | undefined;
  finish(): Promise<PipelineSummary>;
  readonly issues: IssueCounter;
}

/** `units`: what the batch counts against maxInFlight (a record batch counts per batchBytes it holds). */
type ToWorker =
  | { batch: ArrayBuffer; length: number }
  | { records: ArrayBuffer; length: number; linkType: number; nanos: boolean; interfaceId: number; units: number; giveBack: boolean }
  | { clock: [sec: number, nsec: number] }
  | { finish: true };

/** What a worker thread gets as workerData. */
interface WorkerSetup {
  /** 1 … N: names the thread. */
  thread: number;
  settings: FlowPipelineSettings;
  decodeLimits?: Partial<DecodeLimits>;
  sinkData: unknown;
}

/** A batch's acknowledgement or the end carry what the sink had to say, so a batch costs one message back. */
type FromWorker =
  | { ack: number; sink?: unknown; back?: ArrayBuffer }
  | { done: Omit<PipelineSummary, 'packets' | 'bytes'>; sink?: unknown }
  | { error: string };

interface Lane {
  index: number;
  worker: Worker;
  writer: BatchWriter;
  inFlight: number;
  done?: Omit<PipelineSummary, 'packets' | 'bytes'>;
}

export function createParallelPipeline(opts: ParallelOptions): ParallelPipeline {
  const n = Math.max(1, opts.workers);
  const batchBytes = opts.batchBytes ?? 256 * 1024;
  const maxInFlight = opts.maxInFlight ?? 8;
  const issues = new IssueCounter();
  const decoder = createDecoder({ limits: opts.decodeLimits, issues });
  const raw = opts.rawDispatch ?? true;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const wakeUp = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const fail = (err: Error) => {
    if (failure !== undefined) return;
    failure = err;
    opts.onFailure?.(err);
  };

  const lanes: Lane[] = [];
  for (let i = 0; i < n; i++) {
    const worker = startWorker(opts.workerUrl, {
      workerData: { thread: i + 1, settings: { ...opts.settings, streamIdStart: (opts.firstStreamId ?? 1) + i, streamIdStep: n }, decodeLimits: opts.decodeLimits, sinkData: opts.sinkData } satisfies WorkerSetup,
      resourceLimits: opts.workerResourceLimits,
    });
    const lane: Lane = { index: i, worker, writer: new BatchWriter(batchBytes), inFlight: 0 };
    worker.on('message', (m: FromWorker) => {
      if ('sink' in m && m.sink !== undefined) opts.onSinkMessage?.(m.sink, i, 'ack' in m ? (m.ack > 0 ? 'batch' : 'clock') : 'end');
      if ('ack' in m) {
        lane.inFlight -= m.ack;
        if (m.back !== undefined) opts.onBatchBack?.(m.back);
      } else if ('done' in m) lane.done = m.done;
      else if ('error' in m) fail(new Error(`dissection thread ${i}: ${m.error}`));
      wakeUp();
    });
    worker.on('error', (err) => {
      fail(err);
      wakeUp();
    });
    worker.on('exit', () => wakeUp());
    lanes.push(lane);
  }

  let packets = 0;
  let bytes = 0;
  let dropped = 0;
  const dropWhenBehind = opts.dropWhenBehind === true;
  const send = (lane: Lane) => {
    const { batch, length } = lane.writer.take();
    lane.inFlight++;
    opts.onBatchSent?.(lane.index);
    lane.worker.postMessage({ batch, length } satisfies ToWorker, [batch]);
  };
  /** Adds the packet to its lane's batch, decoded (`d`) or raw (`d` null); a full batch is sent first, or, when the lane is behind, the packet dropped. */
  const enqueue = (lane: Lane, packet: RawPacket, d: DecodedPacket | null): void => {
    const w = lane.writer;
    if (d === null ? w.appendRaw(packet) : w.append(d)) return;
    if (dropWhenBehind && lane.inFlight >= maxInFlight) {
      dropped++;
      return;
    }
    send(lane);
    if (d === null) w.appendRaw(packet);
    else w.append(d);
  };
  /** A packet that the hash read from its headers cannot place: decoded here, it travels decoded. */
  const pushDecoded = (packet: RawPacket): void => {
    const p = decoder.decode(packet);
    if (p === null) return;
    const hash = flowHashOf(p);
    enqueue(lanes[hash < 0 ? 0 : hash % n], packet, p);
  };
  const cutBatch = () => issues.count('capture.batch_cut');
  /** The record batch as a transferable ArrayBuffer: its own, when it starts one that nothing else views (`whole`) or that holds just its bytes, else a copy. */
  const ownBuffer = (batch: Buffer, length: number, whole: boolean): ArrayBuffer =>
    batch.byteOffset === 0 && (whole || batch.buffer.byteLength === length) && !(batch.buffer instanceof SharedArrayBuffer)
      ? (batch.buffer as ArrayBuffer)
      : (batch.buffer.slice(batch.byteOffset, batch.byteOffset + length) as ArrayBuffer);
  const frame: RawPacket = { linkType: 0, interfaceId: 0, tsSec: 0, tsNsec: 0, capLen: 0, origLen: 0, data: Buffer.alloc(0), recordOffset: -1 };
  const waitFor = async (ready: () => boolean) => {
    while (!ready()) {
      if (failure) throw failure;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    if (failure) throw failure;
  };

  return {
    issues,
    push(packet) {
      packets++;
      bytes += packet.capLen;
      const frame = packet.frame;
      const hash = !raw ? -1 : frame !== undefined ? flowHashAt(frame, packet.frameOffset!, packet.capLen, packet.linkType) : flowHashAt(packet.data, 0, packet.data.length, packet.linkType);
      if (hash >= 0) enqueue(lanes[hash % n], packet, null);
      else pushDecoded(packet);
    },
    pushRecords(batch, linkType, nanos, interfaceId, whole = false) {
      const len = batch.length;
      if (n === 1 && raw) {
        // One worker: the batch goes as it is, after what is already waiting for it.
        let o = 0;
        let count = 0;
        while (o + 16 <= len) {
          const next = o + 16 + u32le(batch, o + 8);
          if (next > len) break;
          count++;
          bytes += next - o - 16;
          o = next;
        }
        if (o < len) cutBatch();
        packets += count;
        if (count === 0) return false;
        const lane = lanes[0];
        if (lane.writer.bytes > 0 && !(dropWhenBehind && lane.inFlight >= maxInFlight)) send(lane);
        if (dropWhenBehind && lane.inFlight >= maxInFlight) {
          dropped += count;
          return false;
        }
        const units = Math.max(1, Math.ceil(o / batchBytes));
        lane.inFlight += units;
        opts.onBatchSent?.(0);
        const records = ownBuffer(batch, o, whole);
        const taken = records === batch.buffer;
        // Only the caller's own buffer is worth giving back, not a copy made here.
        const giveBack = taken && opts.onBatchBack !== undefined;
        lane.worker.postMessage({ records, length: o, linkType, nanos, interfaceId, units, giveBack } satisfies ToWorker, [records]);
        return taken;
      }
      frame.linkType = linkType;
      frame.interfaceId = interfaceId;
      let o = 0;
      while (o + 16 <= len) {
        const capLen = u32le(batch, o + 8);
        const at = o + 16;
        if (at + capLen > len) break;
        const tsSec = u32le(batch, o);
        const tsNsec = nanos ? u32le(batch, o + 4) : u32le(batch, o + 4) * 1000;
        const origLen = u32le(batch, o + 12);
        packets++;
        bytes += capLen;
        const hash = raw ? flowHashAt(batch, at, capLen, linkType) : -1;
        if (hash >= 0) {
          const w = lanes[hash % n].writer;
          if (!w.appendFrame(batch, at, capLen, origLen, tsSec, tsNsec, linkType, interfaceId)) {
            const lane = lanes[hash % n];
            if (dropWhenBehind && lane.inFlight >= maxInFlight) dropped++;
            else {
              send(lane);
              w.appendFrame(batch, at, capLen, origLen, tsSec, tsNsec, linkType, interfaceId);
            }
          }
        } else {
          frame.tsSec = tsSec;
          frame.tsNsec = tsNsec;
          frame.capLen = capLen;
          frame.origLen = origLen;
          frame.data = batch.subarray(at, at + capLen);
          pushDecoded(frame);
        }
        o = at + capLen;
      }
      if (o < len) cutBatch();
      return false;
    },
    flushPartial() {
      for (const lane of lanes) if (lane.writer.bytes > 0 && !(dropWhenBehind && lane.inFlight >= maxInFlight)) send(lane);
    },
    advance(sec, nsec) {
      for (const lane of lanes) {
        if (lane.inFlight >= maxInFlight) continue;
        if (lane.writer.bytes > 0) send(lane);
        lane.worker.postMessage({ clock: [sec, nsec] } satisfies ToWorker);
      }
    },
    get droppedByTapline() {
      return dropped;
    },
    drained() {
      if (failure) return Promise.reject(failure);
      if (lanes.every((l) => l.inFlight < maxInFlight)) return undefined;
      return waitFor(() => lanes.every((l) => l.inFlight < maxInFlight));
    },
    async finish() {
      for (const lane of lanes) {
        if (lane.writer.bytes > 0) send(lane);
        lane.worker.postMessage({ finish: true } satisfies ToWorker);
      }
      try {
        await waitFor(() => lanes.every((l) => l.done !== undefined));
      } finally {
        await Promise.all(lanes.map((l) => l.worker.terminate()));
      }
      if (dropped > 0) issues.count('tapline.dropped_behind', dropped);
      const total: PipelineSummary = { packets, bytes, flows: 0, entries: 0, gaps: 0, gapBytes: 0, issues: {} };
      for (const { done } of lanes) {
        total.flows += done!.flows;
        total.entries += done!.entries;
        total.gaps += done!.gaps;
        total.gapBytes += done!.gapBytes;
        issues.merge(done!.issues);
      }
      total.issues = issues.toJSON();
      return total;
    },
  };
}

/**
 * What a worker does with its entries; `flush` runs after every batch and at the end. What
 * it returns goes to the main thread's `onSinkMessage` with the batch's acknowledgement
 * (`transfer`: buffers handed over, not copied).
 */
export interface EntrySink {
  onEntry(entry: Entry): void;
  flush(flows?: { active: number }): SinkOutput | void;
}

export interface SinkOutput {
  message: unknown;
  transfer?: ArrayBuffer[];
}

/** The body of a dissection worker module: `serveFlowWorker((sinkData) => mySink)`. */
export function serveFlowWorker(createSink: (sinkData: unknown) => EntrySink): void {
  const port = parentPort;
  if (port === null) throw new Error('serveFlowWorker must run in a worker thread');
  const { thread, settings, decodeLimits, sinkData } = workerData as WorkerSetup;
  nameThread(`tl-dissect-${thread}`);
  const sink = createSink(sinkData);
  const flows = createFlowPipeline({ ...settings, onEntry: (e) => sink.onEntry(e) });
  // Raw frames are decoded here; their issues count with this thread's others.
  const decoder = createDecoder({ limits: decodeLimits, issues: flows.issues });
  const decode = (raw: RawPacket) => decoder.decode(raw);
  const packet = emptyDecodedPacket();
  const add = flows.add;
  const flowInfo = { active: 0 };
  const flush = (): SinkOutput | void => {
    flowInfo.active = flows.activeFlows();
    return sink.flush(flowInfo);
  };
  const decodeAndAdd = (raw: RawPacket) => {
    const d = decoder.decode(raw);
    if (d !== null) add(d);
  };
  port.on('message', (m: ToWorker) => {
    try {
      if ('batch' in m || 'records' in m) {
        if ('batch' in m) readBatch(m.batch, m.length, packet, decode, add);
        else readRecords(m.records, m.length, m.linkType, m.nanos, m.interfaceId, decodeAndAdd);
        const out = flush();
        // What the batch completed is packed now, and nothing kept points into it: it can go back.
        const back = 'records' in m && m.giveBack ? m.records : undefined;
        const transfer = back === undefined ? out?.transfer : [...(out?.transfer ?? []), back];
        port.postMessage({ ack: 'units' in m ? m.units : 1, sink: out?.message, back } satisfies FromWorker, transfer);
      } else if ('clock' in m) {
        flows.advance(m.clock[0], m.clock[1]);
        const out = flush();
        port.postMessage({ ack: 0, sink: out?.message } satisfies FromWorker, out?.transfer);
      } else {
        const done = flows.finish();
        const out = flush();
        port.postMessage({ done, sink: out?.message } satisfies FromWorker, out?.transfer);
      }
    } catch (err) {
      port.postMessage({ error: (err as Error).stack ?? String(err) } satisfies FromWorker);
    }
  });
}
