/**
 * A live batch goes back to the capture thread once its dissection thread has made and
 * packed the entries it completed, and is filled with new packets (src/pipeline/README.md
 * "What moved in session 14"). So nothing the dissection keeps may point into a batch:
 * held segments, probe bytes, heads, bodies and DNS messages must be copies. Here every
 * packet of every capture arrives in one buffer that is overwritten right after the
 * entries it completed are packed, and what is stored must be what fresh memory gives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { corpusCaptures, corpusDir, repoRoot } from '../../test/support/paths.js';
import { readCaptureFile } from '../capture/index.js';
import { createDecoder } from '../decode/index.js';
import type { Entry } from '../entries/index.js';
import { storeParserSettings } from '../protocols/types.js';
import { fixtureDir } from '../store/bench.js';
import { decodeEntries, encodeRows } from '../store/schema.js';
import { readRecords } from './packet-codec.js';
import { createFlowPipeline } from './pipeline.js';

const TAP = storeParserSettings;

interface Packet {
  linkType: number;
  interfaceId: number;
  tsSec: number;
  tsNsec: number;
  origLen: number;
  data: Buffer;
}

async function packetsOf(file: string): Promise<Packet[] | null> {
  const out: Packet[] = [];
  try {
    await readCaptureFile(file, (pk) => out.push({ linkType: pk.linkType, interfaceId: pk.interfaceId, tsSec: pk.tsSec, tsNsec: pk.tsNsec, origLen: pk.origLen, data: Buffer.from(pk.data) }));
  } catch {
    // A capture the reader refuses (src/capture has its own tests for those): nothing to compare.
    return null;
  }
  return out;
}

/**
 * The same packets with every TCP payload over IPv4 on Ethernet cut into pieces of 1, 7, 50
 * and 300 bytes, every other pair of pieces swapped: heads and bodies arrive in parts,
 * protocol detection waits for more bytes, and the reassembler holds segments that came
 * early. Every UDP datagram over IPv4 becomes two IP fragments, so the decoder holds
 * fragments too. (Checksums are left as they were: both runs below read the same frames.)
 */
function cutUp(packets: readonly Packet[]): Packet[] {
  const out: Packet[] = [];
  const sizes = [1, 7, 50, 300];
  let k = 0;
  for (const p of packets) {
    const d = p.data;
    const ip = 14;
    const hl = d.length > ip ? (d[ip]! & 0x0f) * 4 : 0;
    const total = d.length >= ip + 4 ? Math.min(d.length - ip, d.readUInt16BE(ip + 2)) : 0;
    const first = 16; // bytes of the IP payload in the first fragment (a multiple of 8)
    if (p.linkType === 1 && d.length >= 34 && d.readUInt16BE(12) === 0x0800 && d[23] === 17 && (d.readUInt16BE(ip + 6) & 0x3fff) === 0 && total - hl > first) {
      // A UDP datagram in two IP fragments, the second first every other time.
      const frag = (from: number, to: number, more: boolean): Packet => {
        const f = Buffer.concat([d.subarray(0, ip + hl), d.subarray(ip + hl + from, ip + hl + to)]);
        f.writeUInt16BE(hl + to - from, ip + 2);
        f.writeUInt16BE((more ? 0x2000 : 0) | (from / 8), ip + 6);
        return { ...p, origLen: f.length, data: f };
      };
      const pair = [frag(0, first, true), frag(first, total - hl, false)];
      out.push(...(k++ % 2 === 0 ? pair : pair.reverse()));
      continue;
    }
    if (p.linkType !== 1 || d.length < 34 || d.readUInt16BE(12) !== 0x0800 || d[23] !== 6) {
      out.push(p);
      continue;
    }
    const tcp = ip + hl;
    const at = tcp + (d[tcp + 12]! >> 4) * 4;
    const end = Math.min(d.length, ip + d.readUInt16BE(ip + 2));
    if (at >= end) {
      out.push(p);
      continue;
    }
    const pieces: Packet[] = [];
    for (let o = at; o < end; ) {
      const n = Math.min(sizes[k++ % sizes.length]!, end - o);
      const f = Buffer.concat([d.subarray(0, at), d.subarray(o, o + n)]);
      f.writeUInt16BE(at - ip + n, ip + 2);
      f.writeUInt32BE((d.readUInt32BE(tcp + 4) + (o - at)) >>> 0, tcp + 4);
      pieces.push({ ...p, origLen: f.length, data: f });
      o += n;
    }
    for (let i = 0; i + 1 < pieces.length; i += 4) [pieces[i], pieces[i + 1]] = [pieces[i + 1]!, pieces[i]!];
    out.push(...pieces);
  }
  return out;
}

/** The stored entries of `packets` as JSON, each packet given to the dissection in a record batch of its own. */
function storedEntries(packets: readonly Packet[], reuse: boolean): string[] {
  const out: string[] = [];
  let done: Entry[] = [];
  const flows = createFlowPipeline({ nodeName: 'reuse', settings: TAP, onEntry: (e) => done.push(e) });
  const decoder = createDecoder({ issues: flows.issues });
  const add = (raw: Parameters<Parameters<typeof readRecords>[5]>[0]) => {
    const d = decoder.decode(raw);
    if (d !== null) flows.add(d);
  };
  const pack = () => {
    if (done.length === 0) return;
    for (const e of decodeEntries(encodeRows(done))) out.push(JSON.stringify(e));
    done = [];
  };
  const shared = Buffer.alloc(16 + 262_144);
  for (const pk of packets) {
    const data = pk.data;
    // Buffer.alloc gives a buffer its own ArrayBuffer, so the records start at 0.
    const rec = reuse ? shared : Buffer.alloc(16 + data.length);
    rec.writeUInt32LE(pk.tsSec >>> 0, 0); // a live record holds 32 bits (some corpus files go past them)
    rec.writeUInt32LE(pk.tsNsec, 4);
    rec.writeUInt32LE(data.length, 8);
    rec.writeUInt32LE(pk.origLen, 12);
    data.copy(rec, 16);
    readRecords(rec.buffer as ArrayBuffer, 16 + data.length, pk.linkType, true, pk.interfaceId, add);
    pack();
    if (reuse) shared.fill(0xa5);
  }
  flows.finish();
  pack();
  return out;
}

const files = [
  join(fixtureDir, 'http/fixtures/nginx.pcap'),
  join(fixtureDir, 'dns/fixtures/dns-dnsmasq.pcap'),
  join(repoRoot, 'examples/demo.pcapng'),
  ...corpusCaptures(),
];

test('entries made from a record buffer that is overwritten after every packet are those of fresh buffers', async () => {
  let compared = 0;
  let cut = 0;
  const protocols = new Set<string>();
  for (const file of files) {
    const packets = await packetsOf(file);
    if (packets === null) continue;
    const cases = file.includes(corpusDir) ? [packets] : [packets, cutUp(packets)];
    for (const [c, input] of cases.entries()) {
      const fresh = storedEntries(input, false);
      const reused = storedEntries(input, true);
      assert.equal(reused.length, fresh.length, `${file}${c ? ' cut up' : ''}: entries`);
      for (let i = 0; i < fresh.length; i++) {
        assert.equal(reused[i], fresh[i], `${file}${c ? ' cut up' : ''}: entry ${i}`);
        protocols.add((JSON.parse(fresh[i]!) as Entry).protocol.name);
      }
      compared += fresh.length;
      if (c) cut += fresh.length;
    }
  }
  assert.ok(compared >= 100, `entries compared: ${compared}`);
  assert.ok(cut >= 20, `entries of cut-up captures: ${cut}`);
  assert.ok(protocols.has('http') && protocols.has('dns'), `protocols: ${[...protocols].join(', ')}`);
});
