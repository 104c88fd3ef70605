import { nextForEtherType } from './ethertype.js';
import { Outcome, type LayerState } from './state.js';
import { u16be } from '../common/bytes.js';

/** Tags kept per packet; deeper stacks are still walked but not recorded. */
const MAX_RECORDED_TAGS = 8;

/**
 * One 802.1Q / 802.1ad tag after its TPID: TCI (PCP 3 bits, DEI 1 bit, VID 12 bits)
 * then the EtherType of what follows. The TPID (0x8100, 0x88a8, 0x9100) was already
 * read by the layer before. Tags are recorded outermost first.
 */
export function decodeVlan(s: LayerState): number {
  if (s.end - s.off < 4) return s.fail(Outcome.TRUNCATED, 'vlan.truncated');
  const tci = u16be(s.buf, s.off);
  const type = u16be(s.buf, s.off + 2);
  s.off += 4;
  const vlans = s.out.vlans;
  if (vlans.length < MAX_RECORDED_TAGS) vlans.push(tci & 0x0fff);
  return nextForEtherType(s, type);
}
