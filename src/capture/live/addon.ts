/**
 * Finds and loads the libpcap addon (native/build/Release/pcap_binding.node), once,
 * on first use: importing this module never fails, so commands that do not capture
 * live still run where the addon was not built.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pcapAddonPath } from '../../common/native.js';
import { LiveCaptureError } from './errors.js';

/** One interface's counters, as the native binding reports them and the wrapper sums them. */
export interface LiveCaptureCounters {
  /** Packets that passed the filter in the kernel (pcap_stats ps_recv). */
  received: number;
  /** Packets the kernel dropped because the ring was full (ps_drop): Tapline was too slow. */
  droppedByKernel: number;
  /** Packets the interface or driver dropped (ps_ifdrop). */
  droppedByInterface: number;
  /** Packets put into batches. */
  captured: number;
  /** Bytes of packet data put into batches (sum of caplen). */
  capturedBytes: number;
  batches: number;
  /** Times the capture thread waited because every batch was still with JavaScript (back-pressure). */
  stalls: number;
}

/** The shape of what pcap_binding.cc exports. */
export interface NativeStats extends LiveCaptureCounters {
  oversize: number;
  discarded: number;
  statsAgeMs: number | null;
  running: boolean;
}

export interface NativeLiveCapture {
  readonly linkType: number;
  readonly tsResolution: 'us' | 'ns';
  readonly snaplen: number;
  readonly warning: string | null;
  stop(): void;
  stats(): NativeStats;
  /** The oldest batch handed to JS has been processed: it may go back to the pool (absent in addons built before it existed). */
  ack?(): void;
}

/** How one interface is captured: the same for the public wrapper and the native binding. */
export interface CaptureSettings {
  /** Capture filter in pcap-filter syntax, applied in the kernel. */
  filter?: string;
  /** Bytes kept of each packet (default 262144, libpcap's maximum: whole packets). */
  snaplen?: number;
  /** Kernel ring size per interface (default 32 MiB): how big a burst may wait for the capture thread. */
  bufferBytes?: number;
  /** Promiscuous mode (default true, as tcpdump; ignored for 'any'). */
  promiscuous?: boolean;
  /** libpcap's read timeout (default 50 ms): how long the kernel holds a part-filled block. */
  timeoutMs?: number;
  /** libpcap immediate mode: every packet is readable at once (more wake-ups; default false). */
  immediate?: boolean;
  /** Bytes per batch (default 1 MiB). */
  batchBytes?: number;
  /** Batches per interface, in flight or free (default 4): the memory bound, batchBytes x batchPool. */
  batchPool?: number;
  /** A part-filled batch is handed over at most this long after its first packet (default 50 ms). */
  flushMs?: number;
  /** How often the kernel's counters are read (default 1000 ms). */
  statsIntervalMs?: number;
  /** After stop(), how long at most to keep reading what the kernel already holds (default 1000 ms). */
  drainMaxMs?: number;
  /** A network namespace to capture in: a name under /run/netns or a path (/proc/PID/ns/net). Needs CAP_SYS_ADMIN. */
  netns?: string;
}

export interface NativeOpenOptions extends CaptureSettings {
  device: string;
}

/**
 * kind 0: (0, buffer, packets, length): a batch, the first `length` bytes of `buffer` (a
 * Buffer of exactly the batch from addons built before session 14); kind 1: (1, message,
 * code); kind 2: (2) once, last; kind 3: (3, bytes) before each batch, answered with an
 * ArrayBuffer of at least `bytes` to copy it into, or undefined.
 */
export type NativeCallback = (kind: 0 | 1 | 2 | 3, value?: ArrayBuffer | Buffer | string | number, extra?: number | string, length?: number) => ArrayBuffer | undefined | void;

export interface NativeAddressRecord {
  family: 'inet' | 'inet6' | 'link' | 'unknown';
  addr: string | null;
  netmask: string | null;
  broadaddr: string | null;
  dstaddr: string | null;
}

export interface NativeBinding {
  LiveCapture: new (opts: NativeOpenOptions, cb: NativeCallback) => NativeLiveCapture;
  CompiledFilter: new (
    expr: string,
    linkType: number,
    snaplen: number,
  ) => { matches(packet: Uint8Array, origLen?: number): boolean; readonly instructions: number };
  listInterfaces(netns?: string): { name: string; description: string | null; addresses: NativeAddressRecord[]; flags: number }[];
  version(): string;
}

/** The command that builds the addon (scripts/setup.sh runs it). */
export const BUILD_COMMAND = 'npx node-gyp rebuild -C native';

/** Where the addon is looked for: $TAPLINE_PCAP_ADDON, else the node-gyp output under native/. */
export function addonPath(): string {
  return pcapAddonPath();
}

let binding: NativeBinding | undefined;
let loadError: LiveCaptureError | undefined;

export function loadBinding(): NativeBinding {
  if (binding) return binding;
  if (loadError) throw loadError;
  const path = addonPath();
  if (!existsSync(path)) {
    loadError = new LiveCaptureError(
      'capture.addon_missing',
      `live capture needs the libpcap addon, which is not built (${path} is missing): build it with \`${BUILD_COMMAND}\` (needs Debian's libpcap-dev)`,
    );
    throw loadError;
  }
  try {
    binding = createRequire(import.meta.url)(path) as NativeBinding;
  } catch (e) {
    loadError = new LiveCaptureError(
      'capture.addon_missing',
      `the libpcap addon at ${path} does not load (${(e as Error).message}): rebuild it with \`${BUILD_COMMAND}\``,
    );
    throw loadError;
  }
  return binding;
}

/** Why live capture cannot work here (addon missing or not loadable), or null when it can. */
export function liveCaptureUnavailableReason(): string | null {
  try {
    loadBinding();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
