export { createDecoder, type Decoder, type DecoderOptions, type DecodeStats } from './decoder.js';
export { ipv4Text, ipv6Text } from './ip-text.js';
export { flowHashAt, flowHashOf, type FlowFields } from './flow-hash.js';
export { IpProto, TcpFlag, defaultDecodeLimits, emptyDecodedPacket, type DecodedPacket, type DecodeLimits } from './types.js';
