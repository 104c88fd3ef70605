/**
 * Every file of the tcpdump test corpus (830 pcap/pcapng files, many crafted to break
 * parsers) read by this reader and by tshark, which nobody here wrote: same packets,
 * same timestamps, lengths and interfaces whenever tshark reads the file cleanly, and
 * never a crash or a hang.
 *
 * tshark's answers are cached under /tmp keyed by file name, size and mtime (and the
 * tshark version), so only the first run pays for ~830 tshark start-ups.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { corpusDir } from '../../test/support/paths.js';
import { tsharkMissing } from '../../test/support/tshark.js';
import { block, collect, epb, idb, isb, nrb, packetBlock, pcapFile, shb, spb } from './capture-writer.js';

/** A tshark run on one file longer than this counts as a hang of tshark (the file is then skipped). */
const TSHARK_TIMEOUT_MS = 120_000;
/** Our reader must finish every single corpus file within this. */
const PER_FILE_LIMIT_MS = 20_000;
const TSHARK_POOL = 3;

interface TsharkResult {
  exitCode: number | null;
  stderr: string;
  /** One row per frame: number, time_epoch, len, cap_len, interface_id. */
  rows: string[][];
}

interface OurResult {
  file: string;
  /** tsSec, tsNsec, origLen, capLen, interfaceId, linkType, data.length, recordOffset, data as hex. */
  packets: [number, number, number, number, number, number, number, number, string][];
  error: { code: string; offset: number; message: string } | null;
  issues: Record<string, number>;
}

/**
 * Link types whose first bytes Wireshark's wiretap turns into a pseudo-header and leaves
 * out of frame.len and frame.cap_len; we deliver the record as stored.
 * SUNATM (123): a 4-byte header of flags, VPI and VCI.
 */
const WIRETAP_PSEUDO_HEADER_BYTES: Record<number, number> = { 123: 4 };

const noTshark = tsharkMissing() ?? false;

/** tshark on a file, or (path '-') on `input` piped to its standard input. */
function runTshark(path: string, input?: Buffer): Promise<TsharkResult> {
  return new Promise((resolve, reject) => {
    const args = ['-n', '-r', path, '-T', 'fields', '-E', 'separator=,', '-e', 'frame.number', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.interface_id'];
    // tshark refuses a socket as standard input (what Node's 'pipe' is): put `cat` in between for a real pipe.
    const child = input
      ? spawn('sh', ['-c', 'cat | tshark "$@"', 'sh', ...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: TSHARK_TIMEOUT_MS })
      : spawn('tshark', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: TSHARK_TIMEOUT_MS });
    if (input) {
      child.stdin!.on('error', () => undefined); // tshark may stop reading early
      child.stdin!.end(input);
    }
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (exitCode) => {
      const rows = out.split('\n').filter((l) => l.length > 0).map((l) => l.split(','));
      const stderr = err.split('\n').filter((l) => l.length > 0 && !l.includes('Running as user')).join('\n');
      resolve({ exitCode, stderr, rows });
    });
  });
}

interface OracleJob {
  key: string;
  path: string;
  input?: Buffer;
}

function cacheKey(f: string, suffix = ''): string {
  const st = statSync(join(corpusDir, f));
  return `${f}:${st.size}:${st.mtimeMs}${suffix}`;
}

/** tshark's answer for every job, from the cache under /tmp or by running it (a small pool). */
async function tsharkOracle(jobs: OracleJob[]): Promise<Map<string, TsharkResult>> {
  const version = execFileSync('tshark', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].replace(/[^\w.]+/g, '_');
  const cacheDir = '/tmp/tapline-tshark-oracle';
  mkdirSync(cacheDir, { recursive: true });
  const cacheFile = join(cacheDir, `${version}.json`);
  const cache: Record<string, TsharkResult> = existsSync(cacheFile) ? JSON.parse(readFileSync(cacheFile, 'utf8')) : {};
  const missing = jobs.filter((j) => cache[j.key] === undefined);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < missing.length) {
      const j = missing[next++];
      cache[j.key] = await runTshark(j.path, j.input);
    }
  };
  await Promise.all(Array.from({ length: TSHARK_POOL }, worker));
  if (missing.length > 0) writeFileSync(cacheFile, JSON.stringify(cache));
  return new Map(jobs.map((j) => [j.key, cache[j.key]]));
}

/** Our reader over every file, in a child process watched by a per-file time limit. */
function readAllOurselves(files: string[]): Promise<Map<string, OurResult>> {
  const self = fileURLToPath(import.meta.url);
  const childScript = self.replace(/corpus-oracle\.test\.(ts|js)$/, 'read-capture-child.$1');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, childScript], { stdio: ['pipe', 'pipe', 'pipe'] });
    const results = new Map<string, OurResult>();
    let current = '(start-up)';
    let buffered = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`reading ${current} took longer than ${PER_FILE_LIMIT_MS} ms`));
      }, PER_FILE_LIMIT_MS);
    };
    arm();
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buffered.slice(0, nl)) as OurResult & { start?: string };
        buffered = buffered.slice(nl + 1);
        if (msg.start !== undefined) current = msg.start;
        else results.set(msg.file, msg);
        arm();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`reader child exited with ${code} while reading ${current}: ${stderr}`));
      else resolve(results);
    });
    child.stdin.end(JSON.stringify(files.map((f) => join(corpusDir, f))));
  });
}

/** tshark's time_epoch as we would print it; undefined when tshark prints an out-of-range fraction. */
/** Our results of the first test, for the second. */
let oursByFile: Map<string, OurResult> | undefined;

function ourTime(sec: number, nsec: number): string {
  return `${sec}.${String(nsec).padStart(9, '0')}`;
}

test('corpus: packets, timestamps and lengths equal tshark for every file', { skip: noTshark, timeout: 30 * 60_000 }, async () => {
  const files = readdirSync(corpusDir).filter((f) => /\.pcap(ng)?$/.test(f)).sort();
  assert.ok(files.length >= 800, `corpus has ${files.length} capture files`);
  const [byKey, ours] = await Promise.all([
    tsharkOracle(files.map((f) => ({ key: cacheKey(f), path: join(corpusDir, f) }))),
    readAllOurselves(files),
  ]);
  const oracle = new Map(files.map((f) => [f, byKey.get(cacheKey(f))!]));
  oursByFile = ours;

  const disagreements: string[] = [];
  let clean = 0;
  let unsupportedLinkType = 0;
  let comparedPackets = 0;
  const timesSkipped = new Set<string>();
  for (const f of files) {
    const t = oracle.get(f)!;
    const o = ours.get(join(corpusDir, f))!;
    assert.ok(o, `no result for ${f}`);
    if (t.exitCode === 0 && t.stderr === '') {
      clean++;
      if (o.error) {
        disagreements.push(`${f}: tshark reads ${t.rows.length} frames cleanly, we fail with ${o.error.code} at ${o.error.offset}: ${o.error.message}`);
        continue;
      }
      if (o.packets.length !== t.rows.length) {
        disagreements.push(`${f}: tshark ${t.rows.length} frames, we ${o.packets.length}`);
        continue;
      }
      for (let i = 0; i < t.rows.length; i++) {
        const [num, time, len, capLen, ifId] = t.rows[i];
        const [sec, nsec, origLen, ourCap, ourIf, linkType, dataLen] = o.packets[i];
        const pseudo = WIRETAP_PSEUDO_HEADER_BYTES[linkType] ?? 0;
        const problems: string[] = [];
        if (Number(num) !== i + 1) problems.push(`frame.number ${num}`);
        // A record whose fraction field holds a second or more: wiretap multiplies it into a
        // 32-bit nanosecond field that wraps (garbage), we carry whole seconds into tsSec.
        // Those files' times are checked by the synthetic tests instead.
        const fractionOverflow = (o.issues['pcap.timestamp_fraction_overflow'] ?? 0) > 0;
        if (fractionOverflow) timesSkipped.add(f);
        else if (/^\d+\.\d{9}$/.test(time) && time !== ourTime(sec, nsec)) problems.push(`time ${time} vs ${ourTime(sec, nsec)}`);
        if (Number(len) + pseudo !== origLen) problems.push(`len ${len} vs ${origLen}`);
        if (Number(capLen) + pseudo !== ourCap || dataLen !== ourCap) problems.push(`cap_len ${capLen} vs ${ourCap}/${dataLen}`);
        if (ifId !== '' && Number(ifId) !== ourIf) problems.push(`interface ${ifId} vs ${ourIf}`);
        if (problems.length > 0) {
          disagreements.push(`${f} frame ${i + 1}: ${problems.join(', ')}`);
          break;
        }
        comparedPackets++;
      }
    } else {
      const unsupported = /network type (\d+) unknown or unsupported/.exec(t.stderr);
      if (unsupported) {
        // tshark stops at the header; the file itself is sound, so we read it whole.
        unsupportedLinkType++;
        if (o.error) disagreements.push(`${f}: unsupported link type for tshark, we fail with ${o.error.code}`);
        else if (o.packets.length === 0 || o.packets[0][5] !== (Number(unsupported[1]) & 0xffff)) {
          disagreements.push(`${f}: expected packets of link type ${Number(unsupported[1]) & 0xffff}`);
        }
      } else if (!o.error && o.packets.length !== t.rows.length) {
        // tshark found damage: we must find it too, or agree on what was readable.
        disagreements.push(`${f}: tshark reports "${t.stderr}" after ${t.rows.length} frames; we read ${o.packets.length} without error`);
      }
    }
  }
  assert.deepEqual(disagreements, []);
  assert.ok(clean > 780, `${clean} files read cleanly by tshark`);
  assert.ok(comparedPackets > 10_000, `${comparedPackets} packets compared field by field`);
  assert.ok(unsupportedLinkType <= 20);
  // Exactly the corpus files built with an out-of-range microsecond/nanosecond field.
  assert.deepEqual([...timesSkipped].sort(), [
    'atm-oam-loopback-print-overrun.pcap',
    'rx_serviceid_oobr.pcap',
    'timestamp_invalid_micro.pcap',
    'timestamp_invalid_nano.pcap',
  ]);
});

test('corpus files cut short inside a record: the same packets as tshark, then capture.truncated_file', { skip: noTshark, timeout: 30 * 60_000 }, async () => {
  const files = readdirSync(corpusDir).filter((f) => /\.pcap(ng)?$/.test(f)).sort();
  const ours = oursByFile ?? (await readAllOurselves(files));
  // Every third file that reads cleanly, cut twice: a few bytes into its last record
  // (inside the record header) and in the middle of the file. Cuts inside the file
  // header are left out: tshark then guesses at other formats.
  const jobs: (OracleJob & { bytes: Buffer; name: string })[] = [];
  files.forEach((f, i) => {
    const o = ours.get(join(corpusDir, f));
    if (i % 3 !== 0 || !o || o.error || o.packets.length === 0) return;
    const bytes = readFileSync(join(corpusDir, f));
    const firstRecord = o.packets[0][7];
    const lastRecord = o.packets[o.packets.length - 1][7];
    const cuts = new Set([lastRecord + 5, Math.max(firstRecord + 1, bytes.length >> 1)]);
    for (const cut of cuts) {
      if (cut >= bytes.length) continue;
      const input = bytes.subarray(0, cut);
      jobs.push({ key: cacheKey(f, `:cut${cut}:pipe`), path: '-', input, bytes: input, name: `${f} cut at ${cut}` });
    }
  });
  assert.ok(jobs.length > 400, `${jobs.length} cut files`);
  const oracle = await tsharkOracle(jobs);
  const disagreements: string[] = [];
  let cutShort = 0;
  for (const j of jobs) {
    const t = oracle.get(j.key)!;
    if (/unknown or unsupported/.test(t.stderr)) continue; // tshark stops at the header of these
    const r = collect([j.bytes]);
    const tsharkCut = /cut short in the middle of a packet/.test(t.stderr);
    if (tsharkCut) cutShort++;
    const ourCut = r.error?.code === 'capture.truncated_file';
    if (r.packets.length !== t.rows.length || tsharkCut !== ourCut || (r.error && !ourCut)) {
      disagreements.push(`${j.name}: tshark ${t.rows.length} frames "${t.stderr}", we ${r.packets.length} ${r.error?.code ?? 'clean'}`);
    }
  }
  assert.deepEqual(disagreements, []);
  assert.ok(cutShort > 400, `${cutShort} cuts that tshark calls cut short`);
});

test('synthetic files of every variant read the same by tshark', { skip: noTshark, timeout: 5 * 60_000 }, async () => {
  const records = [
    { tsSec: 1_700_000_000, tsFrac: 999_999, data: [1, 2, 3] },
    { tsSec: 4_000_000_000, tsFrac: 5, data: Array.from({ length: 70 }, (_, i) => i), origLen: 1500 },
  ];
  const files: [string, Buffer][] = [];
  for (const littleEndian of [true, false]) {
    for (const magic of ['us', 'ns', 'modified'] as const) {
      files.push([`pcap ${magic} ${littleEndian ? 'LE' : 'BE'}`, pcapFile({ littleEndian, magic, linkType: 1, records })]);
    }
    const le = littleEndian;
    files.push([
      `pcapng ${le ? 'LE then BE' : 'BE then LE'}`,
      Buffer.concat([
        shb(le),
        idb(le, { linkType: 1, snapLen: 8, name: 'eth0' }),
        idb(le, { linkType: 101, tsresol: 9 }),
        nrb(le),
        epb(le, { interfaceId: 0, ts: 1_700_000_000_123_456n, data: [1, 2, 3, 4, 5, 6], origLen: 60 }),
        epb(le, { interfaceId: 1, ts: 1_700_000_000_987_654_321n, data: [0x45, 0, 0, 0x14] }),
        spb(le, 20, [1, 2, 3, 4, 5, 6, 7, 8]),
        isb(le, 0),
        block(le, 0x12345678, Buffer.from('unknown')),
        packetBlock(le, { interfaceId: 1, ts: 999_999_999n, data: [7, 7] }),
        shb(!le),
        idb(!le, { linkType: 113, tsresol: 0x94, tsoffset: 1_000_000_000n }),
        epb(!le, { interfaceId: 0, ts: (5n << 20n) + 524_288n + 3n, data: [0, 4] }),
      ]),
    ]);
  }
  // Files, not a pipe: tshark cannot tell the modified pcap variant on a pipe.
  const dir = mkdtempSync(join(tmpdir(), 'tapline-tshark-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, bytes] of files) {
    const path = join(dir, name.replace(/\W+/g, '_'));
    writeFileSync(path, bytes);
    const t = await runTshark(path);
    const r = collect([bytes]);
    assert.equal(t.stderr, '', name);
    assert.equal(r.error, undefined, name);
    // tshark prints no time for a Simple Packet Block (it has none); we give 0.
    const ours = r.packets.map((p, i) => [String(i + 1), t.rows[i]?.[1] === '' ? '' : ourTime(p.tsSec, p.tsNsec), String(p.origLen), String(p.capLen)]);
    assert.deepEqual(ours, t.rows.map((row) => row.slice(0, 4)), name);
  }
});
