/** DNS over UDP and TCP (RFC 1035, 3596, 2782, 6891, 9460), mDNS and LLMNR by the same reader. */
import { defineProtocol } from '../types.js';
import { createDnsParser, dnsLimits } from './parser.js';
import { probeDns } from './probe.js';

export const dns = defineProtocol({
  name: 'dns',
  transport: 'both',
  // 53 DNS, 5353 mDNS (RFC 6762), 5355 LLMNR (RFC 4795).
  portHints: [53, 5353, 5355],
  probe: (data, _dir, conn) => probeDns(data, conn),
  createParser: createDnsParser,
  limits: dnsLimits,
});

export { dnsLimits, createDnsParser } from './parser.js';
export { probeDns, looksLikeDns } from './probe.js';
export { readMessage } from './message.js';
export type { DnsMessage, DnsQuestion, DnsRecord, DnsFlags, DnsEdns, EdnsOption, DnsReadOptions } from './message.js';
