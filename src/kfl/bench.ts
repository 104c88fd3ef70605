/**
 * KFL's speed, measured against jq doing the same selection over the same entries as
 * JSON lines. `npm run bench` calls benchKfl with the benchmark capture's entries;
 * `node --import tsx src/kfl/bench.ts [N]` runs it on N synthesized entries.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { compile } from './index.js';

export interface KflBenchCase {
  name: string;
  query: string;
  /** The same selection in jq, as a condition on one entry. */
  jq: string;
}

export const kflBenchCases: readonly KflBenchCase[] = [
  { name: 'protocol macro', query: 'http', jq: '.protocol.name == "http"' },
  {
    name: 'status 500',
    query: 'http and response.status == 500',
    jq: '.protocol.name == "http" and .response.status == 500',
  },
  {
    name: 'header regex',
    query: 'http and request.headers["Accept"] == r"application/json.*"',
    jq:
      '.protocol.name == "http" and ([(.request.headers // {}) | objects | to_entries[]' +
      ' | select(.key | ascii_downcase == "accept") | .value | strings | test("application/json.*")] | any)',
  },
  {
    name: 'json() path',
    query: 'response.content.text.json().some.path == "somevalue"',
    jq: '([.response.content.text | strings | (try fromjson catch null) | try .some.path catch null] | any(. == "somevalue"))',
  },
];

export interface KflBenchRow {
  name: string;
  query: string;
  entries: number;
  matched: number;
  /** Compiled match over in-memory entries. */
  entriesPerSec: number;
  /** Reading the JSON lines file, JSON.parse of each line, then match: what jq does. */
  endToEndEntriesPerSec: number;
  /** Entries of the JSON lines file the compiled query selected (compare with jqMatched). */
  jsonLinesMatched: number;
  jqMatched: number;
  jqEntriesPerSec: number;
  /** endToEndEntriesPerSec / jqEntriesPerSec (> 1: faster than jq). */
  ratioEndToEnd: number;
  /** entriesPerSec / jqEntriesPerSec. */
  ratioInMemory: number;
}

export interface KflBenchOptions {
  /**
   * The entries written as JSON lines for the end-to-end and jq timings (default: `entries`).
   * A million entries of a real capture with their bodies is gigabytes of JSON; when
   * `entries` repeats a capture's entries, pass the distinct ones here: rates are per entry.
   */
  jsonLinesEntries?: readonly object[];
}

/** Runs every case over `entries`; jq reads the same entries written as JSON lines to a temp file. */
export async function benchKfl(entries: readonly object[], cases: readonly KflBenchCase[] = kflBenchCases, opts: KflBenchOptions = {}): Promise<KflBenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tapline-kfl-bench-'));
  const file = join(dir, 'entries.jsonl');
  const lines = opts.jsonLinesEntries ?? entries;
  try {
    await writeJsonLines(file, lines);
    const rows: KflBenchRow[] = [];
    for (const c of cases) {
      const q = compile(c.query);
      const warm = Math.min(entries.length, 100_000);
      for (let i = 0; i < warm; i++) q.match(entries[i]);
      // Whole passes, at least three unless one takes over a second; the fastest pass counts
      // (on a shared machine the others mostly measure the neighbours).
      let matched = 0;
      let passes = 0;
      let best = Infinity;
      let elapsed = 0;
      do {
        const t0 = process.hrtime.bigint();
        matched = 0;
        for (let i = 0; i < entries.length; i++) if (q.match(entries[i])) matched++;
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        best = Math.min(best, s);
        elapsed += s;
        passes++;
      } while ((passes < 3 && elapsed < 1) || elapsed < 0.5);
      const entriesPerSec = entries.length / best;

      const e2e = await endToEnd(file, q.match);
      const jq = await runJq(file, c.jq);
      rows.push({
        name: c.name,
        query: c.query,
        entries: entries.length,
        matched,
        entriesPerSec,
        endToEndEntriesPerSec: lines.length / e2e.seconds,
        jsonLinesMatched: e2e.matched,
        jqMatched: jq.matched,
        jqEntriesPerSec: lines.length / jq.seconds,
        ratioEndToEnd: jq.seconds / e2e.seconds,
        ratioInMemory: entriesPerSec / (lines.length / jq.seconds),
      });
    }
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One JSON line per entry, written a few megabytes at a time (the whole file may not fit in one string). */
async function writeJsonLines(file: string, entries: readonly object[]): Promise<void> {
  const fh = await open(file, 'w');
  try {
    let chunk = '';
    for (const e of entries) {
      chunk += JSON.stringify(e) + '\n';
      if (chunk.length >= 1 << 22) {
        await fh.write(chunk);
        chunk = '';
      }
    }
    if (chunk) await fh.write(chunk);
  } finally {
    await fh.close();
  }
}

async function endToEnd(file: string, match: (e: unknown) => boolean): Promise<{ matched: number; seconds: number }> {
  const t0 = process.hrtime.bigint();
  let matched = 0;
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) if (line && match(JSON.parse(line))) matched++;
  return { matched, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

function runJq(file: string, condition: string): Promise<{ matched: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    // Counting inside jq keeps its output (and our reading of it) out of the timing.
    const child = spawn('jq', ['-n', `reduce (inputs | select(${condition})) as $e (0; . + 1)`, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) reject(new Error(`jq exited with ${code}: ${err.trim()}`));
      else resolve({ matched: Number(out.trim()), seconds });
    });
  });
}

/** Entries shaped like a busy cluster's: mostly HTTP, some DNS, a few with JSON bodies. */
export function synthesizeEntries(n: number): object[] {
  const out: object[] = [];
  const statuses = [200, 200, 200, 201, 204, 301, 404, 500, 503];
  const paths = ['/api/cart', '/api/users/42', '/healthz', '/actuator/health', '/static/app.js'];
  for (let i = 0; i < n; i++) {
    const base = {
      id: `node-a/${String(i >> 3).padStart(12, '0')}-${i & 7}`,
      stream: String(i >> 3).padStart(12, '0'),
      index: i & 7,
      node: { name: 'node-a', ip: '192.0.2.10' },
      timestamp: 1_678_675_066_172 + i,
      startTime: '2023-03-13T02:37:46.172360504Z',
      elapsedTime: (i % 97) / 3,
      src: { ip: `10.1.${(i >> 8) & 255}.${i & 255}`, port: 30000 + (i % 30000), namespace: 'shop', name: 'frontend' },
      dst: { ip: '10.1.9.9', port: 8080, namespace: i % 3 ? 'shop' : 'payments', name: 'cart' },
      outgoing: false,
      requestSize: 400,
      responseSize: 120,
      passed: false,
      failed: false,
    };
    if (i % 10 === 9) {
      out.push({
        ...base,
        protocol: { name: 'dns', version: '', abbr: 'DNS', layer4: 'udp' },
        request: { id: i & 0xffff, opCode: 'QUERY', questions: [{ name: 'cart.shop.svc.cluster.local', type: 'A', class: 'IN' }] },
        response: { code: 'NOERROR', answers: [{ name: 'cart.shop.svc.cluster.local', type: 'A', class: 'IN', ttl: 30, data: '10.1.9.9' }] },
      });
      continue;
    }
    const json = i % 4 === 0;
    out.push({
      ...base,
      protocol: { name: 'http', version: '1.1', abbr: 'HTTP', layer4: 'tcp' },
      request: {
        method: i % 5 ? 'GET' : 'POST',
        url: paths[i % paths.length] + '?a=' + (i % 100),
        path: paths[i % paths.length],
        host: 'cart.shop',
        httpVersion: 'HTTP/1.1',
        headers: { Host: 'cart.shop', 'User-Agent': 'curl/8.5.0', [i % 2 ? 'Accept' : 'accept']: json ? 'application/json' : '*/*' },
        queryString: { a: String(i % 100) },
        cookies: {},
        bodySize: 0,
      },
      response: {
        status: statuses[i % statuses.length],
        statusText: 'OK',
        httpVersion: 'HTTP/1.1',
        headers: { 'Content-Type': json ? 'application/json' : 'text/plain' },
        cookies: {},
        bodySize: 30,
        content: { mimeType: json ? 'application/json' : 'text/plain', size: 30, text: json ? `{"some":{"path":"${i % 8 ? 'other' : 'somevalue'}"},"n":${i}}` : 'ok' },
      },
    });
  }
  return out;
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const n = Number(process.argv[2] ?? 1_000_000);
  const rows = await benchKfl(synthesizeEntries(n));
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(15)} ${(r.entriesPerSec / 1e6).toFixed(2).padStart(7)} M/s in memory  ` +
        `${(r.endToEndEntriesPerSec / 1e6).toFixed(3)} M/s JSON lines  jq ${(r.jqEntriesPerSec / 1e6).toFixed(3)} M/s  ` +
        `×${r.ratioEndToEnd.toFixed(2)} vs jq  matched ${r.matched} (jq ${r.jqMatched})`,
    );
  }
}
