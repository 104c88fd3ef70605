import { readFileSync, realpathSync } from 'node:fs';

/**
 * Every way opening or running a live capture can fail, by code:
 * - `capture.addon_missing`      the native addon is not built or does not load
 * - `capture.permission_denied`  the process lacks CAP_NET_RAW (and CAP_NET_ADMIN); the message says how to grant it
 * - `capture.no_such_interface`  no interface by that name (in that namespace)
 * - `capture.interface_down`     the interface exists but is not up
 * - `capture.bad_filter`         the capture filter does not compile (libpcap's message included)
 * - `capture.bad_option`         an option is out of range
 * - `capture.netns_failed`       the network namespace cannot be entered
 * - `capture.open_failed`        any other libpcap failure at start
 * - `capture.read_failed`        the capture broke while running (e.g. the interface went away); reported via onError
 * - `capture.list_failed`        pcap_findalldevs failed
 * - `capture.callback_failed`    the onBatch callback threw; reported via onError, capture goes on
 */
export type LiveCaptureErrorCode =
  | 'capture.addon_missing'
  | 'capture.permission_denied'
  | 'capture.no_such_interface'
  | 'capture.interface_down'
  | 'capture.bad_filter'
  | 'capture.bad_option'
  | 'capture.netns_failed'
  | 'capture.open_failed'
  | 'capture.read_failed'
  | 'capture.list_failed'
  | 'capture.callback_failed';

export class LiveCaptureError extends Error {
  constructor(
    readonly code: LiveCaptureErrorCode,
    message: string,
    /** The interface the error is about, when it is about one. */
    readonly interfaceName?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LiveCaptureError';
  }
}

/** Turns an error thrown by the addon (an Error with a string `code`) into a LiveCaptureError. */
export function fromNative(e: unknown, interfaceName?: string): LiveCaptureError {
  if (e instanceof LiveCaptureError) return e;
  const err = e as Error & { code?: string };
  const code = (typeof err?.code === 'string' && err.code.startsWith('capture.') ? err.code : 'capture.open_failed') as LiveCaptureErrorCode;
  if (code === 'capture.permission_denied') return permissionError(err.message, interfaceName, e);
  return new LiveCaptureError(code, err?.message ?? String(e), interfaceName, { cause: e });
}

// Bit numbers from linux/capability.h.
const CAP_NET_ADMIN = 12;
const CAP_NET_RAW = 13;

/** The effective capability set of this process (/proc/self/status CapEff), or null when unknown. */
export function effectiveCapabilities(): bigint | null {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt('0x' + m[1]) : null;
  } catch {
    return null;
  }
}

/** The capabilities live capture needs that this process does not hold. */
export function missingCaptureCapabilities(): string[] {
  const caps = effectiveCapabilities();
  if (caps === null) return ['CAP_NET_RAW', 'CAP_NET_ADMIN'];
  const missing: string[] = [];
  if ((caps & (1n << BigInt(CAP_NET_RAW))) === 0n) missing.push('CAP_NET_RAW');
  if ((caps & (1n << BigInt(CAP_NET_ADMIN))) === 0n) missing.push('CAP_NET_ADMIN');
  return missing;
}

function nodeBinary(): string {
  try {
    return realpathSync(process.execPath);
  } catch {
    return process.execPath;
  }
}

/**
 * Packet sockets need CAP_NET_RAW; CAP_NET_ADMIN covers promiscuous mode and large
 * kernel buffers. The message names what is missing and the two ways to get it.
 */
export function permissionError(pcapMessage: string, interfaceName?: string, cause?: unknown): LiveCaptureError {
  const missing = missingCaptureCapabilities();
  const lacks = missing.length > 0 ? missing.join(' and ') : 'CAP_NET_RAW';
  return new LiveCaptureError(
    'capture.permission_denied',
    `live capture${interfaceName ? ` on ${interfaceName}` : ''} needs the ${lacks} capabilit${missing.length > 1 ? 'ies' : 'y'}, ` +
      `which this process does not have. Grant them to node with ` +
      `\`setcap cap_net_raw,cap_net_admin=eip ${nodeBinary()}\` (i.e. setcap cap_net_raw,cap_net_admin=eip $(readlink -f $(which node))), ` +
      `or run as root. (libpcap: ${pcapMessage})`,
    interfaceName,
    { cause },
  );
}
