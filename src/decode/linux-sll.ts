import { nextForEtherType } from './ethertype.js';
import { Outcome, type LayerState } from './state.js';

/**
 * LINKTYPE_LINUX_SLL (113), 16 bytes: packet type (2), ARPHRD type (2), link-layer
 * address length (2), address (8, padded), protocol type (2).
 * The protocol type is an EtherType, except "1 ... Novell 802.3 frames without an 802.2
 * LLC header" and "4 ... frames with an 802.2 LLC header" (tcpdump.org linktypes page):
 * those fall under non-IP through the EtherType switch.
 */
export function decodeLinuxSll(s: LayerState): number {
  if (s.end - s.off < 16) return s.fail(Outcome.TRUNCATED, 'sll.truncated');
  const type = s.buf.readUInt16BE(s.off + 14);
  s.off += 16;
  return nextForEtherType(s, type);
}

/**
 * LINKTYPE_LINUX_SLL2 (276), 20 bytes: protocol type (2), reserved (2), interface
 * index (4), ARPHRD type (2), packet type (1), address length (1), address (8).
 */
export function decodeLinuxSll2(s: LayerState): number {
  if (s.end - s.off < 20) return s.fail(Outcome.TRUNCATED, 'sll2.truncated');
  const type = s.buf.readUInt16BE(s.off);
  s.off += 20;
  return nextForEtherType(s, type);
}
