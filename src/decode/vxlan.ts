import { Next, type LayerState } from './state.js';

/** IANA port for VXLAN (RFC 7348 5), and the port the Linux kernel and flannel use by default. */
export const VXLAN_PORT = 4789;
export const VXLAN_LINUX_PORT = 8472;

/**
 * RFC 7348 5: flags (8 bits) "I flag MUST be set to 1 for a valid VXLAN Network ID (VNI).
 * The other 7 bits (designated "R") are reserved", 24 reserved bits, the 24-bit VNI and
 * 8 reserved bits, followed by the inner Ethernet frame.
 * Returns Next.ETHERNET with the VNI in `tunnelId`, or -1 (nothing changed) when the
 * UDP payload does not look like VXLAN.
 */
export function decodeVxlan(s: LayerState): number {
  if (s.end - s.off < 8) return -1;
  const buf = s.buf;
  if ((buf[s.off] & 0x08) === 0) return -1;
  s.out.tunnel = 'vxlan';
  s.out.tunnelId = (buf[s.off + 4] << 16) | (buf[s.off + 5] << 8) | buf[s.off + 6];
  s.off += 8;
  return Next.ETHERNET;
}
