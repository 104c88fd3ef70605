import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ethernetIpTcp, ethernetIpUdp, ipv4Packet, udpDatagram } from '../decode/test-packets.js';
import { hiLoToNanos, nanosToHiLo, PcapngWriter } from './pcapng-writer.js';
import { ipv4Bytes, ipv6Bytes } from '../decode/ip-bytes.js';
import { capinfos, readPackets, tsharkFields } from './test-support.js';

const dir = mkdtempSync(join(tmpdir(), 'tapline-pcapng-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const tcp = ethernetIpTcp({ src: '10.1.2.3', dst: '10.1.9.9', sport: 36848, dport: 8080, payload: Buffer.from('GET / HTTP/1.1\r\n\r\n') });
const udp6 = ethernetIpUdp({ src: '2001:db8::1', dst: '2001:db8::53', sport: 40000, dport: 53, payload: Buffer.alloc(13, 0x41) });
const rawIp = ipv4Packet({ src: '192.0.2.7', dst: '10.1.2.3', proto: 17, payload: udpDatagram({ src: '192.0.2.7', dst: '10.1.2.3', sport: 9, dport: 9, payload: Buffer.from('x') }) });

/** Packets of the reference file: (interface, sec, nsec, bytes, origLen, comment). */
const packets: [number, number, number, Buffer, number, string | undefined][] = [
  [0, 1678675066, 172360504, tcp, tcp.length, 'request from frontend'],
  [0, 1678675066, 999999999, udp6, udp6.length + 100, undefined], // cut by a snaplen: origLen > capLen
  [1, 4102444800, 1, rawIp, rawIp.length, 'ünïcode comment ✓'], // 2100-01-01, past 2^32 s·1e9 in the high word
  [0, 0, 0, tcp.subarray(0, 14), tcp.length, undefined], // the epoch itself; capLen not a multiple of 4
];

function writeReference(w: PcapngWriter): void {
  w.writeSectionHeader({ comment: "tapline export --kfl 'http and response.status == 500' from 1 to 2", userAppl: 'Tapline 0.1.0' });
  w.writeNameResolution(
    new Map([
      ['10.1.2.3', ['frontend-7d9f-x2.shop', 'frontend']],
      ['10.1.9.9', ['cart.shop']],
      ['2001:db8::1', ['dns-client.kube-system']],
      ['not-an-ip', ['ignored']],
    ]),
  );
  assert.equal(w.addInterface({ linkType: 1, name: 'veth-client', snapLen: 262144 }), 0);
  assert.equal(w.addInterface({ linkType: 101, name: 'tun0' }), 1);
  for (const [iface, sec, nsec, data, origLen, comment] of packets) w.writePacket(iface, sec, nsec, data, origLen, comment);
}

describe('PcapngWriter', () => {
  const file = join(dir, 'ref.pcapng');
  const fd = openSync(file, 'w');
  const w = new PcapngWriter(fd);
  writeReference(w);
  w.flush();
  closeSync(fd);

  test('tshark reads every field, timestamps to the nanosecond', () => {
    const rows = tsharkFields(file, ['frame.number', 'frame.time_epoch', 'frame.len', 'frame.cap_len', 'frame.interface_name', 'frame.comment', 'frame.encap_type']);
    assert.deepEqual(rows, [
      ['1', '1678675066.172360504', String(tcp.length), String(tcp.length), 'veth-client', 'request from frontend', '1'],
      ['2', '1678675066.999999999', String(udp6.length + 100), String(udp6.length), 'veth-client', '', '1'],
      ['3', '4102444800.000000001', String(rawIp.length), String(rawIp.length), 'tun0', 'ünïcode comment ✓', '7'],
      ['4', '0.000000000', String(tcp.length), '14', 'veth-client', '', '1'],
    ]);
  });

  test('tshark resolves addresses from the name resolution block (first name of a record shown)', () => {
    const rows = tsharkFields(file, ['ip.src_host', 'ip.dst_host', 'ipv6.src_host'], ['-N', 'n']);
    assert.deepEqual(rows.slice(0, 3), [
      ['frontend-7d9f-x2.shop', 'cart.shop', ''],
      ['', '', 'dns-client.kube-system'],
      ['192.0.2.7', 'frontend-7d9f-x2.shop', ''],
    ]);
  });

  test('capinfos sees the section comment, application, interfaces and count', () => {
    const info = capinfos(file);
    assert.equal(info.get('File type'), 'pcapng');
    assert.equal(info.get('Number of packets'), '4');
    assert.equal(info.get('Capture application'), 'Tapline 0.1.0');
    assert.equal(info.get('Capture comment'), "tapline export --kfl 'http and response.status == 500' from 1 to 2");
    assert.equal(info.get('Number of interfaces in file'), '2');
    assert.equal(info.get('Number of resolved IPv4 addresses in file'), '3'); // a record per name: 2 + 1
    assert.equal(info.get('Number of resolved IPv6 addresses in file'), '1');
  });

  test('the capture reader of src/capture gets the same packets back', async () => {
    const back = await readPackets(file);
    assert.equal(back.length, packets.length);
    back.forEach((p, i) => {
      const [iface, sec, nsec, data, origLen] = packets[i]!;
      assert.equal(p.linkType, iface === 0 ? 1 : 101);
      assert.equal(p.tsSec, sec);
      assert.equal(p.tsNsec, nsec);
      assert.equal(p.origLen, origLen);
      assert.deepEqual(p.data, data);
    });
  });

  test('section header bytes', () => {
    // 0a0d0d0a 34000000 4d3c2b1a 0100 0000 ffffffffffffffff   SHB, length 52, BOM, v1.0, length unknown
    // 0400 0d00 "Tapline 0.1.0" 000000                           shb_userappl (13 bytes, padded)
    // 0000 0000                                                   opt_endofopt
    // 34000000                                                    trailing length
    const fd2 = openSync(join(dir, 'shb.pcapng'), 'w');
    const w2 = new PcapngWriter(fd2);
    w2.writeSectionHeader({ userAppl: 'Tapline 0.1.0' });
    w2.flush();
    closeSync(fd2);
    const hex =
      '0a0d0d0a' + '34000000' + '4d3c2b1a' + '0100' + '0000' + 'ffffffffffffffff' +
      '04000d00' + Buffer.from('Tapline 0.1.0').toString('hex') + '000000' + '00000000' + '34000000';
    assert.equal(readFileSync(join(dir, 'shb.pcapng')).toString('hex'), hex);
  });

  test('a Writable target with a tiny buffer gets byte-identical output, packets larger than the buffer included', async () => {
    const big = Buffer.alloc(10000, 0x5a);
    const viaFd = join(dir, 'fd.pcapng');
    const fd3 = openSync(viaFd, 'w');
    const a = new PcapngWriter(fd3, { bufferBytes: 4096 });
    writeReference(a);
    a.writePacket(0, 1, 2, big, big.length);
    a.flush();
    closeSync(fd3);
    const viaStream = join(dir, 'stream.pcapng');
    const ws = createWriteStream(viaStream, { highWaterMark: 1024 });
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    const b = new PcapngWriter(ws, { bufferBytes: 4096 });
    writeReference(b);
    assert.equal(b.writePacket(0, 1, 2, big, big.length), a.offset - (32 + big.length));
    b.flush(); // 10 KB handed to a stream whose high-water mark is 1 KiB
    assert.ok(b.ready() instanceof Promise, 'the stream is over its high-water mark');
    await b.ready();
    await b.end();
    await closed;
    assert.deepEqual(readFileSync(viaStream), readFileSync(viaFd));
    assert.equal(b.offset, readFileSync(viaFd).length);
    assert.equal(tsharkFields(viaStream, ['frame.cap_len']).at(-1)?.[0], '10000');
  });

  test('writeNameResolution skips bad addresses and empty name lists and tells how many', () => {
    const fd4 = openSync(join(dir, 'nrb.pcapng'), 'w');
    const w4 = new PcapngWriter(fd4);
    w4.writeSectionHeader();
    assert.equal(w4.writeNameResolution([['10.0.0.1', ['a']], ['10.0.0.256', ['b']], ['::1', []], ['fe80::1%eth0', ['c']], ['1:2:3', ['d']]]), 3);
    w4.flush();
    closeSync(fd4);
  });
});

describe('nanosecond timestamps as two 32-bit words', () => {
  test('agree with BigInt arithmetic at the edges', () => {
    const cases: [number, number][] = [
      [0, 0],
      [0, 999_999_999],
      [1, 0],
      [4, 294_967_295], // 2^32 - 1 ns
      [4, 294_967_296], // 2^32 ns exactly
      [1678675066, 172360504],
      [65535, 999_999_999],
      [65536, 0],
      [4102444800, 1],
      [18446744073, 709551615], // 2^64 - 1 ns
    ];
    const hl = { hi: 0, lo: 0 };
    const back = { sec: 0, nsec: 0 };
    for (const [sec, nsec] of cases) {
      const ns = BigInt(sec) * 1_000_000_000n + BigInt(nsec);
      nanosToHiLo(sec, nsec, hl);
      assert.equal(BigInt(hl.hi), ns >> 32n, `hi of ${sec}.${nsec}`);
      assert.equal(BigInt(hl.lo), ns & 0xffffffffn, `lo of ${sec}.${nsec}`);
      hiLoToNanos(hl.hi, hl.lo, back);
      assert.deepEqual([back.sec, back.nsec], [sec, nsec]);
    }
  });
});

describe('address text', () => {
  test('IPv4', () => {
    assert.deepEqual(ipv4Bytes('192.0.2.255'), Buffer.from([192, 0, 2, 255]));
    for (const bad of ['192.0.2', '192.0.2.256', '1.2.3.4.5', '1.2.3.x', '', '1..2.3']) assert.equal(ipv4Bytes(bad), null, bad);
  });
  test('IPv6 (RFC 4291 section 2.2 forms)', () => {
    assert.equal(ipv6Bytes('2001:db8::1')!.toString('hex'), '20010db8000000000000000000000001');
    assert.equal(ipv6Bytes('::')!.toString('hex'), '0'.repeat(32));
    assert.equal(ipv6Bytes('::ffff:192.0.2.1')!.toString('hex'), '00000000000000000000ffffc0000201');
    assert.equal(ipv6Bytes('1:2:3:4:5:6:7:8')!.toString('hex'), '00010002000300040005000600070008');
    assert.equal(ipv6Bytes('fe80::1%eth0')!.toString('hex'), 'fe800000000000000000000000000001');
    for (const bad of ['1:2:3', '1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9', '1:2:3:4::5:6:7:8']) assert.equal(ipv6Bytes(bad), null, bad);
  });
});
