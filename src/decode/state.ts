import type { IssueCounter } from '../common/index.js';
import type { DecodedPacket, DecodeLimits } from './types.js';
import type { FragmentTable } from './ip-fragments.js';

/**
 * What a layer function tells the decoder loop to do next (gopacket's NextLayerType).
 * Plain numbers so the loop's switch stays a jump table.
 */
export const Next = {
  /** Stop: the packet is done (see `outcome`). */
  STOP: 0,
  ETHERNET: 1,
  VLAN: 2,
  MPLS: 3,
  PPPOE: 4,
  IPV4: 5,
  IPV6: 6,
  TCP: 7,
  UDP: 8,
} as const;

/** How one packet ended; each outcome has a counter in `DecodeStats`. */
export const Outcome = {
  /** A TCP or UDP packet was handed on. */
  DECODED: 0,
  /** No IP inside (ARP, LLDP, 802.3/LLC frames, unknown address families, …). */
  NON_IP: 1,
  /** IP carrying neither TCP nor UDP (ICMP, ESP, OSPF, …). */
  OTHER_TRANSPORT: 2,
  /** An IP fragment kept until its siblings arrive (or dropped by a fragment limit). */
  FRAGMENT: 3,
  /** A header is inconsistent with itself or with the layer around it. */
  MALFORMED: 4,
  /** The capture holds fewer bytes than a header needs (snaplen cut). */
  TRUNCATED: 5,
  /** A link type this decoder does not know. */
  UNSUPPORTED_LINK: 6,
} as const;

/**
 * The decoder's working state, handed to every layer function. `buf[off, end)` is what
 * the current layer may read; `wantEnd` is where the layer ends according to the headers
 * around it (beyond `end` when the snaplen cut the frame). Layer functions never read
 * outside `[off, end)`.
 */
export interface LayerState {
  readonly out: DecodedPacket;
  readonly limits: DecodeLimits;
  readonly fragments: FragmentTable;
  buf: Buffer;
  off: number;
  end: number;
  wantEnd: number;
  outcome: number;
  /** Tunnels entered so far for this packet. */
  tunnelDepth: number;
  /** Records an issue code on the packet and in the counter. */
  issue(code: string): void;
  /** `issue` and `outcome` in one go; returns Next.STOP for `return s.fail(...)`. */
  fail(outcome: number, code: string): number;
}

export type { IssueCounter };

/**
 * Hands the IP payload in `s.buf[s.off, s.end)` to the fragment table under `key` (IPv4
 * and IPv6 alike). False while the datagram is incomplete (the packet is counted as a held
 * fragment); true when it completed one, whose bytes then replace the packet's.
 */
export function takeFragment(s: LayerState, key: string, offset: number, more: boolean): boolean {
  const whole = s.fragments.add(key, offset, more, s.buf.subarray(s.off, s.end), s.out.tsSec, s.issue);
  if (whole === null) {
    s.outcome = Outcome.FRAGMENT;
    s.issue('ip.frag_held');
    return false;
  }
  s.buf = whole;
  s.off = 0;
  s.end = s.wantEnd = whole.length;
  return true;
}
