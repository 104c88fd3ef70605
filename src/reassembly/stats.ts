import type { IssueCounter } from '../common/index.js';
import type { CloseReason, ReassemblyLimits } from './types.js';

/** Counters of one flow table, updated in place. */
export interface FlowTableStats {
  /** TCP and UDP packets handed to the table. */
  packets: number;
  /** Connections / UDP flows ever started (each gets a stream id). */
  flowsSeen: number;
  tcpFlows: number;
  udpFlows: number;
  /** Open now. */
  active: number;
  closed: Record<CloseReason, number>;
  /** Bytes passed to `onData`. */
  bytesDelivered: number;
  /** `onGap` calls and the bytes they declared missing. */
  gaps: number;
  gapBytes: number;
  /** Out-of-order bytes held now across all flows, and the most ever held at once. */
  heldBytes: number;
  heldBytesPeak: number;
  limitHits: { tableFull: number; oooSegments: number; oooFlow: number; oooGlobal: number };
}

export function createStats(): FlowTableStats {
  return {
    packets: 0,
    flowsSeen: 0,
    tcpFlows: 0,
    udpFlows: 0,
    active: 0,
    closed: { fin: 0, rst: 0, timeout: 0, end: 0, evicted: 0 },
    bytesDelivered: 0,
    gaps: 0,
    gapBytes: 0,
    heldBytes: 0,
    heldBytesPeak: 0,
    limitHits: { tableFull: 0, oooSegments: 0, oooFlow: 0, oooGlobal: 0 },
  };
}

/** What every stream of one table shares: its limits, its counters, the global held-bytes budget. */
export interface ReassemblyContext {
  limits: ReassemblyLimits;
  issues: IssueCounter;
  stats: FlowTableStats;
}
