import { nextForEtherType } from './ethertype.js';
import type { LayerState } from './state.js';

/** IANA port for Geneve (RFC 8926 3.3). */
export const GENEVE_PORT = 6081;

/**
 * RFC 8926 3.4: Ver (2 bits) "The current version number is 0", Opt Len (6 bits)
 * "expressed in 4-byte multiples, not including the 8-byte fixed tunnel header", O, C,
 * Rsvd, Protocol Type (16) "the type of the protocol data unit appearing after the
 * Geneve header" (an EtherType; 0x6558 for Ethernet), VNI (24), Reserved (8), options.
 * Options are skipped. Returns the next layer with the VNI in `tunnelId`, or -1 (nothing
 * changed) when the UDP payload does not look like Geneve.
 */
export function decodeGeneve(s: LayerState): number {
  if (s.end - s.off < 8) return -1;
  const buf = s.buf;
  const b0 = buf[s.off];
  if (b0 >> 6 !== 0) return -1;
  const headerLen = 8 + (b0 & 0x3f) * 4;
  if (s.end - s.off < headerLen) return -1;
  const protocolType = buf.readUInt16BE(s.off + 2);
  s.out.tunnel = 'geneve';
  s.out.tunnelId = (buf[s.off + 4] << 16) | (buf[s.off + 5] << 8) | buf[s.off + 6];
  s.off += headerLen;
  return nextForEtherType(s, protocolType);
}
