import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { collect, epb, idb, pcapFile, shb, type SeenPacket } from './capture-writer.js';
import { captureFileProblem, readCaptureFile, readCaptureStream } from './read-file.js';
import { CaptureFileError, LinkType, type RawPacket } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'tapline-capture-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** 200 records of 1..200 bytes, each filled with its own index. */
const pcap = pcapFile({
  linkType: LinkType.ETHERNET,
  magic: 'ns',
  records: Array.from({ length: 200 }, (_, i) => ({ tsSec: 1_700_000_000 + i, tsFrac: i * 1000 + 7, data: Buffer.alloc(i + 1, i) })),
});
const pcapng = Buffer.concat([
  shb(false),
  idb(false, { linkType: LinkType.RAW, tsresol: 9 }),
  ...Array.from({ length: 50 }, (_, i) => epb(false, { interfaceId: 0, ts: 1_700_000_000_000_000_000n + BigInt(i), data: Buffer.alloc(i, 0x45) })),
]);
const expectedPcap = collect([pcap]);
const expectedPcapng = collect([pcapng]);

function seen(p: RawPacket): SeenPacket {
  return { ...p, data: p.data.toString('hex') };
}

async function readFile(path: string, opts = {}): Promise<{ packets: SeenPacket[]; summary?: unknown; error?: CaptureFileError }> {
  const packets: SeenPacket[] = [];
  try {
    const summary = await readCaptureFile(path, (p) => packets.push(seen(p)), opts);
    return { packets, summary };
  } catch (err) {
    if (!(err instanceof CaptureFileError)) throw err;
    return { packets, error: err };
  }
}

describe('readCaptureFile', () => {
  test('plain pcap and pcapng files, in big and in tiny chunks, with progress', async () => {
    for (const [name, bytes, expected] of [
      ['a.pcap', pcap, expectedPcap],
      ['b.pcapng', pcapng, expectedPcapng],
    ] as const) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      assert.deepEqual(await readFile(path), { packets: expected.packets, summary: expected.summary });
      const progress: [number, number | undefined][] = [];
      const small = await readFile(path, { chunkBytes: 7, onProgress: (read: number, total: number | undefined) => progress.push([read, total]) });
      assert.deepEqual(small.packets, expected.packets);
      assert.equal(progress.length, Math.ceil(bytes.length / 7));
      assert.deepEqual(progress.at(-1), [bytes.length, bytes.length]);
      assert.deepEqual(progress[0], [7, bytes.length]);
    }
  });

  test('gzip-compressed files are read as their contents (progress counts compressed bytes)', async () => {
    const gz = gzipSync(pcap);
    const path = join(dir, 'a.pcap.gz');
    writeFileSync(path, gz);
    const progress: number[] = [];
    const r = await readFile(path, { chunkBytes: 100, onProgress: (read: number) => progress.push(read) });
    assert.deepEqual(r.packets, expectedPcap.packets);
    assert.deepEqual(r.summary, expectedPcap.summary);
    assert.equal(progress.at(-1), gz.length);
    // Two gzip members one after the other (as `cat a.gz b.gz` makes) are one stream.
    const twoMembers = join(dir, 'two.pcap.gz');
    writeFileSync(twoMembers, Buffer.concat([gzipSync(pcap.subarray(0, 1000)), gzipSync(pcap.subarray(1000))]));
    assert.deepEqual((await readFile(twoMembers)).packets, expectedPcap.packets);
  });

  test('a damaged gzip file: the packets before the damage, then the error at its decompressed offset', async () => {
    const cut = 24 + 16 * 10 + 55 + 3; // inside the eleventh record
    const path = join(dir, 'cut.pcap.gz');
    writeFileSync(path, gzipSync(pcap.subarray(0, cut)));
    const r = await readFile(path);
    assert.deepEqual(r.packets, expectedPcap.packets.slice(0, 10));
    assert.equal(r.error?.code, 'capture.truncated_file');
    assert.equal(r.error?.offset, 24 + 16 * 10 + 55);
  });

  test('damaged gzip data: the packets inflated before it, then capture.bad_gzip', async () => {
    const gz = gzipSync(pcap, { level: 1 });
    const cutOff = join(dir, 'cut-off.pcap.gz');
    writeFileSync(cutOff, gz.subarray(0, gz.length >> 1));
    const r = await readFile(cutOff, { chunkBytes: 64 });
    assert.equal(r.error?.code, 'capture.bad_gzip');
    assert.ok(r.packets.length > 0 && r.packets.length < 200, `${r.packets.length} packets before the damage`);
    assert.deepEqual(r.packets, expectedPcap.packets.slice(0, r.packets.length));
    const garbled = Buffer.from(gz);
    garbled.fill(0xff, 20, 40);
    writeFileSync(cutOff, garbled);
    const g = await readFile(cutOff);
    assert.equal(g.error?.code, 'capture.bad_gzip');
    assert.match(g.error!.message, /gzip data damaged after \d+ decompressed bytes/);
  });

  test('a plain file with bad magic, and one cut short', async () => {
    const bad = join(dir, 'bad');
    writeFileSync(bad, Buffer.from('not a capture at all'));
    const r = await readFile(bad);
    assert.deepEqual([r.error?.code, r.error?.offset, r.packets.length], ['capture.unknown_format', 0, 0]);
    const cut = join(dir, 'cut.pcapng');
    writeFileSync(cut, pcapng.subarray(0, pcapng.length - 2));
    const c = await readFile(cut, { chunkBytes: 64 });
    assert.deepEqual(c.packets, expectedPcapng.packets.slice(0, 49));
    assert.equal(c.error?.code, 'capture.truncated_file');
    assert.equal(c.error?.offset, expectedPcapng.packets[49].recordOffset);
  });

  test('a missing file rejects with the system error, a directory with EISDIR before any read', async () => {
    await assert.rejects(readCaptureFile(join(dir, 'nope.pcap'), () => {}), { code: 'ENOENT' });
    await assert.rejects(readCaptureFile(dir, () => {}), { code: 'EISDIR', syscall: 'open' });
  });

  test('captureFileProblem says in words why a path cannot be read, before anything starts', () => {
    const ok = join(dir, 'ok.pcap');
    writeFileSync(ok, pcap);
    assert.equal(captureFileProblem(ok), undefined);
    assert.equal(captureFileProblem('-'), undefined);
    assert.equal(captureFileProblem(join(dir, 'nope.pcap')), 'no such file');
    assert.equal(captureFileProblem(dir), 'a directory, not a capture file');
    assert.equal(captureFileProblem(join(ok, 'x')), 'a part of the path is not a directory');
  });
});

describe('readCaptureStream', () => {
  test('any chunking of a plain or gzip stream (the gzip magic may arrive one byte at a time)', async () => {
    const gz = gzipSync(pcapng);
    for (const bytes of [pcapng, gz]) {
      for (const sizes of [[1], [1, 1, 5], [3000], [2, 17]]) {
        const pieces: Buffer[] = [];
        for (let at = 0, i = 0; at < bytes.length; i++) {
          const n = sizes[Math.min(i, sizes.length - 1)];
          pieces.push(bytes.subarray(at, at + n));
          at += n;
        }
        const packets: SeenPacket[] = [];
        const summary = await readCaptureStream(Readable.from(pieces), (p) => packets.push(seen(p)));
        assert.deepEqual(packets, expectedPcapng.packets);
        assert.deepEqual(summary, expectedPcapng.summary);
      }
    }
  });

  test('an empty stream', async () => {
    await assert.rejects(readCaptureStream(Readable.from([]), () => {}), { code: 'capture.empty_file' });
  });
});

describe("'-' reads standard input", () => {
  /** Runs the reader child on '-' with `input` piped to its standard input. */
  function viaStdin(input: Buffer): Promise<{ packets: (number | string)[][]; error: { code: string; offset: number; message: string } | null; summary: unknown }> {
    const script = fileURLToPath(import.meta.url).replace(/read-file\.test\.(ts|js)$/, 'read-capture-child.$1');
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [...process.execArgv, script, '-'], { stdio: ['pipe', 'pipe', 'inherit'], timeout: 60_000 });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited with ${code}`))));
      // Write in pieces so the reader sees several chunks from the pipe.
      for (let at = 0; at < input.length; at += 999) child.stdin.write(input.subarray(at, at + 999));
      child.stdin.end();
    });
  }

  const asRows = (ps: SeenPacket[]): (number | string)[][] =>
    ps.map((p) => [p.tsSec, p.tsNsec, p.origLen, p.capLen, p.interfaceId, p.linkType, p.capLen, p.recordOffset, p.data]);

  test('a pcap piped in, plain and gzip', async () => {
    for (const input of [pcap, gzipSync(pcap)]) {
      const r = await viaStdin(input);
      assert.equal(r.error, null);
      assert.deepEqual(r.packets, asRows(expectedPcap.packets));
      assert.deepEqual(r.summary, expectedPcap.summary);
    }
  });

  test('a pcapng cut short, piped in', async () => {
    // 30 bytes off the end: inside the last (104-byte) block.
    const r = await viaStdin(pcapng.subarray(0, pcapng.length - 30));
    assert.equal(r.error?.code, 'capture.truncated_file');
    assert.equal(r.error?.offset, expectedPcapng.packets[49].recordOffset);
    assert.deepEqual(r.packets, asRows(expectedPcapng.packets.slice(0, 49)));
  });
});
