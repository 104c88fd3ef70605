/**
 * Live capture through libpcap: one pcap handle and one native capture thread per
 * interface; packets reach JavaScript in batches of bare pcap records (16-byte record
 * header in host byte order, then the bytes), the layout `createPcapRecordParser` reads.
 */
import { loadBinding, type CaptureSettings, type LiveCaptureCounters, type NativeLiveCapture } from './addon.js';

export type { LiveCaptureCounters } from './addon.js';
import { fromNative, LiveCaptureError } from './errors.js';

export type TsResolution = 'us' | 'ns';

export interface LiveCaptureOptions extends CaptureSettings {
  /** Interface names, or 'any' (Linux's "any" device: every interface, SLL2 link type when libpcap has it). */
  interfaces: string[] | 'any';
  /**
   * One call per batch. `batch` views the start of an ArrayBuffer of its own (`batch.buffer`,
   * byteOffset 0; the bytes after `batch.length` are not the batch's): it may be kept, or
   * handed on whole (transferred), or that ArrayBuffer given back through `takeBuffer`.
   */
  onBatch(batch: Buffer, linkType: number, tsResolution: TsResolution, interfaceName: string): void;
  /**
   * An ArrayBuffer of at least `bytes` that nothing uses any more (one of the batches'),
   * for the next batch to be copied into instead of fresh memory; undefined for a new one
   * (which costs a page fault per 4 KiB filled, and a free once collected).
   */
  takeBuffer?(bytes: number): ArrayBuffer | undefined;
  /** Errors while running (`capture.read_failed`, `capture.callback_failed`); the other interfaces go on. */
  onError(err: LiveCaptureError): void;
}

export interface InterfaceCounters extends LiveCaptureCounters {
  name: string;
  /** Milliseconds since the kernel counters were last read (null before the first read). */
  statsAgeMs: number | null;
  running: boolean;
}

export interface LiveCaptureStats extends LiveCaptureCounters {
  interfaces: InterfaceCounters[];
}

export interface LiveInterfaceInfo {
  name: string;
  /** LINKTYPE_* of the records this interface delivers. */
  linkType: number;
  tsResolution: TsResolution;
  snaplen: number;
  /** A libpcap warning at activation (e.g. promiscuous mode not supported), or null. */
  warning: string | null;
}

export interface LiveCapture {
  /** The link type of the first interface (every batch also carries its own). */
  readonly linkType: number;
  readonly interfaces: readonly LiveInterfaceInfo[];
  /** Counters, summed and per interface; the kernel's are refreshed every statsIntervalMs and at stop. */
  stats(): LiveCaptureStats;
  /**
   * Stops every interface; resolves once the last batch has been delivered and the
   * threads have ended. Calling it again returns the same promise.
   */
  stop(): Promise<void>;
}

const COUNTERS: (keyof LiveCaptureCounters)[] = ['received', 'droppedByKernel', 'droppedByInterface', 'captured', 'capturedBytes', 'batches', 'stalls'];

/** A namespace name becomes its iproute2 path; a path is used as given. */
function netnsPath(netns: string | undefined): string | undefined {
  if (!netns) return undefined;
  return netns.includes('/') ? netns : `/run/netns/${netns}`;
}

interface Handle {
  info: LiveInterfaceInfo;
  native: NativeLiveCapture;
  done: Promise<void>;
}

export function openLiveCapture(opts: LiveCaptureOptions): LiveCapture {
  const binding = loadBinding();
  const devices = opts.interfaces === 'any' ? ['any'] : opts.interfaces;
  if (devices.length === 0) throw new LiveCaptureError('capture.bad_option', 'interfaces must name at least one interface (or be "any")');
  if (new Set(devices).size !== devices.length) throw new LiveCaptureError('capture.bad_option', `interfaces lists a name twice: ${devices.join(', ')}`);
  const { onBatch, onError } = opts;
  const handles: Handle[] = [];
  try {
    for (const device of devices) handles.push(openOne(binding, device, opts, onBatch, onError));
  } catch (e) {
    for (const h of handles) h.native.stop();
    throw fromNative(e, undefined);
  }

  let stopping: Promise<void> | undefined;
  return {
    linkType: handles[0]!.info.linkType,
    interfaces: handles.map((h) => h.info),
    stats(): LiveCaptureStats {
      const total: LiveCaptureStats = { received: 0, droppedByKernel: 0, droppedByInterface: 0, captured: 0, capturedBytes: 0, batches: 0, stalls: 0, interfaces: [] };
      for (const h of handles) {
        const s = h.native.stats();
        for (const k of COUNTERS) total[k] += s[k];
        total.interfaces.push({
          name: h.info.name,
          received: s.received,
          droppedByKernel: s.droppedByKernel,
          droppedByInterface: s.droppedByInterface,
          captured: s.captured,
          capturedBytes: s.capturedBytes,
          batches: s.batches,
          stalls: s.stalls,
          statsAgeMs: s.statsAgeMs,
          running: s.running,
        });
      }
      return total;
    },
    stop(): Promise<void> {
      stopping ??= Promise.all(
        handles.map((h) => {
          h.native.stop();
          return h.done;
        }),
      ).then(() => undefined);
      return stopping;
    },
  };
}

function openOne(
  binding: ReturnType<typeof loadBinding>,
  device: string,
  opts: LiveCaptureOptions,
  onBatch: LiveCaptureOptions['onBatch'],
  onError: LiveCaptureOptions['onError'],
): Handle {
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  // Filled in right after construction; the native thread cannot call back before the next tick.
  let info: LiveInterfaceInfo | undefined;
  let native: NativeLiveCapture;
  // Batches are handed over on the ThreadSafeFunction's turn but processed from
  // setImmediate, one per turn, each acked afterwards (which gives its pool slot back
  // to the capture thread): the event loop polls I/O between batches however far
  // behind the consumer is. The queue holds at most the pool's batches.
  const queue: Buffer[] = [];
  let pumping = false;
  let ended = false;
  const pump = (): void => {
    const batch = queue.shift();
    if (batch !== undefined) {
      try {
        onBatch(batch, info!.linkType, info!.tsResolution, device);
      } catch (e) {
        onError(new LiveCaptureError('capture.callback_failed', `onBatch threw for ${device}: ${(e as Error)?.message ?? e}`, device, { cause: e }));
      }
      native.ack?.();
    }
    if (queue.length > 0) setImmediate(pump);
    else {
      pumping = false;
      if (ended) resolveDone();
    }
  };
  try {
    native = new binding.LiveCapture(
      {
        device,
        netns: netnsPath(opts.netns),
        filter: opts.filter,
        snaplen: opts.snaplen,
        bufferBytes: opts.bufferBytes,
        promiscuous: device === 'any' ? false : opts.promiscuous,
        timeoutMs: opts.timeoutMs,
        immediate: opts.immediate,
        batchBytes: opts.batchBytes,
        batchPool: opts.batchPool,
        flushMs: opts.flushMs,
        statsIntervalMs: opts.statsIntervalMs,
        drainMaxMs: opts.drainMaxMs,
      },
      (kind, value, extra, length) => {
        if (kind === 3) {
          // The native side asks for a buffer to fill; it must not throw.
          try {
            return opts.takeBuffer?.(value as number);
          } catch {
            return undefined;
          }
        }
        if (kind === 0) {
          // Addons built before buffers were given back hand over a Buffer of the batch's size.
          queue.push(value instanceof ArrayBuffer ? Buffer.from(value, 0, length as number) : (value as Buffer));
          if (!pumping) {
            pumping = true;
            setImmediate(pump);
          }
        } else if (kind === 1) {
          onError(new LiveCaptureError((extra as LiveCaptureError['code']) ?? 'capture.read_failed', value as string, device));
        } else {
          // The last batches may still be queued: done once they have been delivered.
          ended = true;
          if (!pumping) resolveDone();
        }
      },
    );
  } catch (e) {
    throw fromNative(e, device);
  }
  info = { name: device, linkType: native.linkType, tsResolution: native.tsResolution, snaplen: native.snaplen, warning: native.warning };
  return { info, native, done };
}
