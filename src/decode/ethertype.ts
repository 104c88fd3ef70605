import { Next, Outcome, type LayerState } from './state.js';

/** EtherType values the decoder follows (IEEE registry). */
export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  /** Transparent Ethernet Bridging: Geneve's protocol type for an inner Ethernet frame. */
  TEB: 0x6558,
  VLAN: 0x8100,
  IPV6: 0x86dd,
  MPLS_UNICAST: 0x8847,
  PPPOE_SESSION: 0x8864,
  QINQ: 0x88a8,
  /** Pre-standard QinQ outer tag used by some switches. */
  QINQ_OLD: 0x9100,
} as const;

/** Maps an EtherType to the next layer; anything unknown ends the packet as non-IP. */
export function nextForEtherType(s: LayerState, type: number): number {
  switch (type) {
    case EtherType.IPV4:
      return Next.IPV4;
    case EtherType.IPV6:
      return Next.IPV6;
    case EtherType.VLAN:
    case EtherType.QINQ:
    case EtherType.QINQ_OLD:
      return Next.VLAN;
    case EtherType.MPLS_UNICAST:
      return Next.MPLS;
    case EtherType.PPPOE_SESSION:
      return Next.PPPOE;
    case EtherType.TEB:
      return Next.ETHERNET;
    default:
      return s.fail(Outcome.NON_IP, 'link.non_ip');
  }
}
