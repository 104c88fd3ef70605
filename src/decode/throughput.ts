/**
 * Decode throughput on a synthetic capture (not a test: timings never go into tests).
 * Run: node --import tsx src/decode/throughput.ts [packets] [pcapOut]
 * Builds `packets` frames (IPv4/IPv6 TCP and UDP, some VLAN-tagged, some VXLAN),
 * decodes them all several times, prints packets/s and MB/s; with `pcapOut` it also
 * writes the frames as a pcap file so `tcpdump -n -r` can be timed on the same traffic.
 */
import { writeFileSync } from 'node:fs';
import { createDecoder } from './decoder.js';
import { ethernetIpTcp, ethernetIpUdp, pcapFile, rawPacket, vxlanPayload } from './test-packets.js';
import type { RawPacket } from '../capture/types.js';

const count = Number(process.argv[2] ?? 1_000_000);
const templates: Buffer[] = [];
for (let i = 0; i < 64; i++) {
  const payload = Buffer.alloc([64, 300, 1400, 0][i % 4], 0x61);
  const host = `10.${i}.0.1`;
  if (i % 8 < 5) templates.push(ethernetIpTcp({ src: host, dst: '10.200.0.2', sport: 40000 + i, dport: 80, seq: i * 1000, ack: 1, payload, vlans: i % 8 === 4 ? [100] : [] }));
  else if (i % 8 === 5) templates.push(ethernetIpTcp({ src: `fd00::${i + 1}`, dst: 'fd00::200', sport: 40000 + i, dport: 443, payload }));
  else if (i % 8 === 6) templates.push(ethernetIpUdp({ src: host, dst: '10.200.0.53', sport: 50000 + i, dport: 53, payload: payload.subarray(0, 80) }));
  else templates.push(ethernetIpUdp({ src: '192.168.0.1', dst: '192.168.0.2', sport: 50000, dport: 4789, payload: vxlanPayload(7, ethernetIpTcp({ src: host, dst: '10.200.0.2', sport: 1234, dport: 80, payload })) }));
}
// One large buffer holding every frame, as a file reader would deliver views of it.
const big = Buffer.concat(Array.from({ length: count }, (_, i) => templates[i % templates.length]));
const packets: RawPacket[] = [];
let off = 0;
for (let i = 0; i < count; i++) {
  const len = templates[i % templates.length].length;
  packets.push(rawPacket(big.subarray(off, off + len), 1, { tsSec: 1_700_000_000 + Math.floor(i / 100_000) }));
  off += len;
}
if (process.argv[3]) writeFileSync(process.argv[3], pcapFile(packets));

const decoder = createDecoder();
let payloadBytes = 0;
for (const p of packets.slice(0, 100_000)) decoder.decode(p); // warm-up
const rounds = 3;
const t0 = process.hrtime.bigint();
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < packets.length; i++) {
    const out = decoder.decode(packets[i]);
    if (out !== null) payloadBytes += out.payload.length;
  }
}
const sec = Number(process.hrtime.bigint() - t0) / 1e9;
const n = rounds * packets.length;
console.log(`${n} packets in ${sec.toFixed(2)} s: ${(n / sec / 1e6).toFixed(2)} M packets/s, ${((rounds * big.length) / sec / 1e6).toFixed(0)} MB/s of frames (${payloadBytes} payload bytes)`);
