import { loadBinding } from './addon.js';
import { fromNative } from './errors.js';

export type InterfaceFlag = 'loopback' | 'up' | 'running' | 'wireless' | 'connected' | 'disconnected';

export interface InterfaceAddress {
  family: 'inet' | 'inet6' | 'link' | 'unknown';
  /** Text form: dotted quad, IPv6 text, or a MAC address for 'link'. */
  addr: string | null;
  netmask: string | null;
  broadaddr: string | null;
  dstaddr: string | null;
}

export interface CaptureInterfaceInfo {
  name: string;
  description: string | null;
  addresses: InterfaceAddress[];
  flags: InterfaceFlag[];
}

// PCAP_IF_* from pcap/pcap.h.
const PCAP_IF_LOOPBACK = 0x1;
const PCAP_IF_UP = 0x2;
const PCAP_IF_RUNNING = 0x4;
const PCAP_IF_WIRELESS = 0x8;
const PCAP_IF_CONNECTION_STATUS = 0x30;
const PCAP_IF_CONNECTION_STATUS_CONNECTED = 0x10;
const PCAP_IF_CONNECTION_STATUS_DISCONNECTED = 0x20;

function flagNames(flags: number): InterfaceFlag[] {
  const out: InterfaceFlag[] = [];
  if (flags & PCAP_IF_LOOPBACK) out.push('loopback');
  if (flags & PCAP_IF_UP) out.push('up');
  if (flags & PCAP_IF_RUNNING) out.push('running');
  if (flags & PCAP_IF_WIRELESS) out.push('wireless');
  const status = flags & PCAP_IF_CONNECTION_STATUS;
  if (status === PCAP_IF_CONNECTION_STATUS_CONNECTED) out.push('connected');
  if (status === PCAP_IF_CONNECTION_STATUS_DISCONNECTED) out.push('disconnected');
  return out;
}

/** The interfaces libpcap can capture on (pcap_findalldevs), optionally inside a network namespace. */
export function listInterfaces(opts: { netns?: string } = {}): CaptureInterfaceInfo[] {
  const binding = loadBinding();
  const ns = opts.netns ? (opts.netns.includes('/') ? opts.netns : `/run/netns/${opts.netns}`) : undefined;
  try {
    return binding.listInterfaces(ns).map((d) => ({ name: d.name, description: d.description, addresses: d.addresses, flags: flagNames(d.flags) }));
  } catch (e) {
    throw fromNative(e);
  }
}

/** The libpcap version string, e.g. "libpcap version 1.10.3 (with TPACKET_V3)". */
export function pcapVersion(): string {
  return loadBinding().version();
}
