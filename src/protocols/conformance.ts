/**
 * The conformance suite every protocol parser passes (STYLE.md): same items under every
 * chunk split; no throw on random or mutated bytes; limits respected; a violation when
 * fed another protocol's bytes. A protocol's folder calls `runConformance` from a test file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectionInfo, Direction } from '../reassembly/types.js';
import { defaultParserSettings, type ParsedItem, type ParserSettings, type ProtocolDefinition } from './types.js';
import { prng } from '../common/prng.js';

export interface SampleChunk {
  dir: Direction;
  data: Buffer;
  sec?: number;
  nsec?: number;
}

export interface ConformanceSample {
  name: string;
  transport: 'tcp' | 'udp';
  /** Server port of the sample's connection. */
  port?: number;
  /** The exchange in arrival order (for UDP, one chunk per datagram). */
  chunks: SampleChunk[];
  /** Items the sample must give at least (so a parser that emits nothing cannot pass). */
  minItems: number;
}

export interface Run {
  items: ParsedItem[];
  violations: string[];
  weirds: string[];
}

export function sampleConn(transport: 'tcp' | 'udp', port = 8080): ConnectionInfo {
  return {
    id: '000000000001',
    transport,
    client: { ip: '10.0.0.1', port: 40000 },
    server: { ip: '10.0.0.2', port },
    roleBy: transport === 'tcp' ? 'syn' : 'first',
    startSec: 1_700_000_000,
    startNsec: 0,
    vlans: [],
    tunnel: '',
    tunnelId: 0,
  };
}

/** Drives a parser the way the dispatcher does: stop feeding after a violation, close at the end. */
export function runParser(
  def: ProtocolDefinition,
  conn: ConnectionInfo,
  chunks: readonly SampleChunk[],
  opts: { limits?: Record<string, number>; settings?: Partial<ParserSettings> } = {},
): Run {
  const run: Run = { items: [], violations: [], weirds: [] };
  let stopped = false;
  const parser = def.createParser({
    conn,
    limits: { ...def.limits, ...opts.limits },
    settings: { ...defaultParserSettings, ...opts.settings },
    emit: (item) => run.items.push(item),
    confirm() {},
    violation(code) {
      run.violations.push(code);
      stopped = true;
    },
    weird: (code) => run.weirds.push(code),
  });
  let sec = conn.startSec;
  let nsec = 0;
  for (const c of chunks) {
    if (stopped) break;
    sec = c.sec ?? sec;
    nsec = c.nsec ?? nsec;
    parser.onData(c.dir, c.data, sec, nsec);
  }
  if (!stopped) parser.onClose(sec, nsec);
  return run;
}

function splitAt(chunks: readonly SampleChunk[], i: number, k: number): SampleChunk[] {
  const c = chunks[i];
  return [...chunks.slice(0, i), { ...c, data: c.data.subarray(0, k) }, { ...c, data: c.data.subarray(k) }, ...chunks.slice(i + 1)];
}

function bytewise(chunks: readonly SampleChunk[]): SampleChunk[] {
  const out: SampleChunk[] = [];
  for (const c of chunks) for (let k = 0; k < c.data.length; k++) out.push({ ...c, data: c.data.subarray(k, k + 1) });
  return out;
}

const plain = (items: ParsedItem[]) => JSON.parse(JSON.stringify(items)) as unknown;

export function runConformance(def: ProtocolDefinition, samples: readonly ConformanceSample[], foreign: readonly ConformanceSample[]): void {
  for (const sample of samples) {
    const conn = sampleConn(sample.transport, sample.port);
    const baseline = runParser(def, conn, sample.chunks);

    test(`${def.name} conformance: ${sample.name}: gives its items without violation`, () => {
      assert.deepEqual(baseline.violations, []);
      assert.ok(baseline.items.length >= sample.minItems, `${baseline.items.length} items, want ≥ ${sample.minItems}`);
    });

    if (sample.transport === 'tcp') {
      test(`${def.name} conformance: ${sample.name}: same items under every chunk split`, () => {
        const want = plain(baseline.items);
        for (let i = 0; i < sample.chunks.length; i++) {
          for (let k = 1; k < sample.chunks[i].data.length; k++) {
            const got = runParser(def, conn, splitAt(sample.chunks, i, k));
            assert.deepEqual(plain(got.items), want, `chunk ${i} split at byte ${k}`);
          }
        }
        assert.deepEqual(plain(runParser(def, conn, bytewise(sample.chunks)).items), want, 'one byte per chunk');
      });
    }

    test(`${def.name} conformance: ${sample.name}: mutated bytes never throw`, () => {
      const rand = prng(0x5eed ^ sample.name.length);
      for (let round = 0; round < 300; round++) {
        const chunks = sample.chunks.map((c) => {
          const data = Buffer.from(c.data);
          const flips = 1 + Math.floor(rand() * 4);
          for (let f = 0; f < flips && data.length > 0; f++) data[Math.floor(rand() * data.length)] = Math.floor(rand() * 256);
          const cut = rand() < 0.2 ? Math.floor(rand() * data.length) : data.length;
          return { ...c, data: data.subarray(0, cut) };
        });
        runParser(def, conn, chunks);
      }
    });

    test(`${def.name} conformance: ${sample.name}: limits respected`, () => {
      // Every limit at a tiny value: the parser must report (weird or violation), never throw or exceed.
      for (const name of Object.keys(def.limits)) {
        const run = runParser(def, conn, sample.chunks, { limits: { [name]: 1 } });
        for (const code of [...run.weirds, ...run.violations]) {
          assert.match(code, /^[a-z0-9]+\.[a-z0-9_]+$/, `issue code ${code} (limit ${name})`);
        }
      }
      const tiny = Object.fromEntries(Object.keys(def.limits).map((k) => [k, 1]));
      const run = runParser(def, conn, sample.chunks, { limits: tiny });
      assert.ok(run.weirds.length + run.violations.length > 0, `every limit at 1 must be reported, got ${JSON.stringify(run)}`);
    });
  }

  test(`${def.name} conformance: random bytes never throw`, () => {
    const rand = prng(0xbad);
    for (let round = 0; round < 500; round++) {
      const chunks: SampleChunk[] = [];
      const n = 1 + Math.floor(rand() * 6);
      for (let i = 0; i < n; i++) {
        const data = Buffer.alloc(Math.floor(rand() * 600));
        for (let j = 0; j < data.length; j++) data[j] = Math.floor(rand() * 256);
        chunks.push({ dir: (rand() < 0.5 ? 0 : 1) as Direction, data });
      }
      runParser(def, sampleConn(def.transport === 'udp' ? 'udp' : 'tcp'), chunks);
      if (def.transport === 'both') runParser(def, sampleConn('udp'), chunks);
    }
  });

  for (const other of foreign) {
    test(`${def.name} conformance: ${other.name} bytes are a violation`, () => {
      const conn = sampleConn(other.transport, other.port);
      assert.equal(def.probe(other.chunks[0].data, other.chunks[0].dir, conn), 'no', 'probe must refuse it');
      const run = runParser(def, conn, other.chunks);
      assert.ok(run.violations.length > 0, `want a violation, got ${JSON.stringify(run.items).slice(0, 200)}`);
      assert.deepEqual(run.items, []);
    });
  }
}
