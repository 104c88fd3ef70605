import { nextForEtherType } from './ethertype.js';
import { Next, Outcome, type LayerState } from './state.js';
import { u16be } from '../common/bytes.js';

const ETHERNET_HEADER_LEN = 14;

/**
 * Ethernet II: destination MAC (6), source MAC (6), EtherType (2).
 * IEEE 802.3-2018 3.2.6: "If the value of this field is less than or equal to 1500
 * decimal (05DC hexadecimal), then the Length/Type field indicates the number of MAC
 * client data octets"; values of 1536 (0600 hexadecimal) and above are an EtherType.
 * Length frames carry LLC (STP, CDP, NetBIOS, …), never IP in practice: skipped.
 */
export function decodeEthernet(s: LayerState): number {
  if (s.end - s.off < ETHERNET_HEADER_LEN) return s.fail(Outcome.TRUNCATED, 'ethernet.truncated');
  const type = u16be(s.buf, s.off + 12);
  s.off += ETHERNET_HEADER_LEN;
  if (type < 0x0600) {
    if (type <= 1500) return s.fail(Outcome.NON_IP, 'ethernet.ieee8023_skipped');
    return s.fail(Outcome.MALFORMED, 'ethernet.bad_type');
  }
  return nextForEtherType(s, type);
}
