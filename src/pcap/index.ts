export { PcapngWriter, nanosToHiLo, hiLoToNanos } from './pcapng-writer.js';
export type { PcapngTarget, PcapngWriterOptions, SectionHeaderOptions, InterfaceOptions } from './pcapng-writer.js';
export { openPacketRing } from './ring.js';
export { flowKey, flowKeyOf, flowHash, flowsFromEntries, sameFlow } from './flow.js';
export type { FlowKey, FlowFields, FlowRequest } from './flow.js';
export { RingConfigError } from './types.js';
export type { PacketRing, RingOptions, RingStats, SegmentInfo, ExportOptions, ExportResult, ExportPacket } from './types.js';
