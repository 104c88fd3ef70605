/**
 * Every file of the tcpdump corpus, many crafted to crash parsers: every UDP and TCP
 * payload goes to the DNS probe, the message reader, and a DNS parser per flow (fed
 * whether or not the probe agreed, until it calls a violation). Nothing may throw.
 * Packets come from src/capture and src/decode; their own failures are not this test's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { corpusDir } from '../../../test/support/paths.js';
import type { ConnectionInfo } from '../../reassembly/types.js';
import { defaultParserSettings, type ProtocolParser } from '../types.js';
import { dns } from './index.js';
import { readMessage } from './message.js';

const READ = { maxRecordsPerSection: 1000, maxPointerHops: 64, mdns: false };

test('dns: no throw on any payload of the corpus', { skip: existsSync(corpusDir) ? false : 'corpus not present' }, async () => {
  const capture = await import('../../capture/index.js').catch(() => null);
  const decode = await import('../../decode/index.js').catch(() => null);
  if (capture === null || decode === null) return;
  const ours: string[] = [];
  let payloads = 0;
  let items = 0;
  for (const name of readdirSync(corpusDir).sort()) {
    const flows = new Map<string, { parser: ProtocolParser; dead: boolean }>();
    let decoder: ReturnType<typeof decode.createDecoder>;
    try {
      decoder = decode.createDecoder();
    } catch {
      return;
    }
    const onPacket = (raw: Parameters<Parameters<typeof capture.readCaptureFile>[1]>[0]) => {
      let pkt;
      try {
        pkt = decoder.decode(raw);
      } catch {
        return;
      }
      if (pkt === null || pkt.payload.length === 0 || (pkt.ipProto !== 6 && pkt.ipProto !== 17)) return;
      const transport = pkt.ipProto === 6 ? 'tcp' : 'udp';
      try {
        payloads++;
        const key = `${transport} ${pkt.srcIp} ${pkt.srcPort} ${pkt.dstIp} ${pkt.dstPort}`;
        const back = `${transport} ${pkt.dstIp} ${pkt.dstPort} ${pkt.srcIp} ${pkt.srcPort}`;
        let flow = flows.get(key);
        let dir: 0 | 1 = 0;
        if (flow === undefined && flows.has(back)) {
          flow = flows.get(back);
          dir = 1;
        }
        const conn: ConnectionInfo = {
          id: '000000000001', transport, client: { ip: pkt.srcIp, port: pkt.srcPort }, server: { ip: pkt.dstIp, port: pkt.dstPort },
          roleBy: 'first', startSec: pkt.tsSec, startNsec: pkt.tsNsec, vlans: [], tunnel: '', tunnelId: 0,
        };
        dns.probe(pkt.payload, dir, conn);
        readMessage(pkt.payload, 0, pkt.payload.length, READ);
        if (flow === undefined) {
          const f = { dead: false, parser: null as unknown as ProtocolParser };
          f.parser = dns.createParser({
            conn, limits: dns.limits, settings: defaultParserSettings,
            emit: () => items++, confirm() {}, weird() {},
            violation: () => {
              f.dead = true;
            },
          });
          flow = f;
          flows.set(key, f);
        }
        if (!flow.dead) flow.parser.onData(dir, pkt.payload, pkt.tsSec, pkt.tsNsec);
      } catch (err) {
        ours.push(`${name}: ${(err as Error).stack}`);
      }
    };
    try {
      await capture.readCaptureFile(join(corpusDir, name), onPacket);
    } catch {
      // A damaged capture file ends early: the packets before the damage were delivered.
    }
    try {
      for (const f of flows.values()) if (!f.dead) f.parser.onClose(0, 0);
    } catch (err) {
      ours.push(`${name}: onClose: ${(err as Error).stack}`);
    }
  }
  assert.deepEqual(ours, []);
  // Not vacuous: the corpus holds about 2500 TCP/UDP payloads (10k packets), DNS among them.
  assert.ok(payloads > 2000, `${payloads} payloads`);
  assert.ok(items > 40, `${items} items`);
});
