// Agreement between Tapline and tshark: both are reduced to the same plain
// "facts" (one string per HTTP request, HTTP response, request/response pair,
// DNS query and DNS response), and the two lists are compared as multisets.
//
// A fact holds only what both tools report in the same terms:
//   HTTP request   METHOD URI host=HOST body=N        (N: decoded request body bytes)
//   HTTP response  STATUS body=N                      (N: de-chunked, decompressed body bytes)
//   HTTP exchange  METHOD URI -> STATUS               (the request a response answers)
//   DNS query      TRANSPORT #ID QTYPE QNAME          (first question)
//   DNS response   TRANSPORT #ID QTYPE QNAME RCODE [answers]
// where each answer is "TYPE NAME DATA" written the way `tsharkDns` writes it
// (TXT strings joined, SOA cut to mname rname serial, no data for other types).
//
// Tapline is run as its users run it: the real `bin/tapline.js read FILE`.

import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { repoRoot } from './paths.js';
import { tsharkHttp, tsharkDns, TSHARK_REASSEMBLY_PREFS, type TsharkHttp, type TsharkDns, type TsharkOptions } from './tshark.js';

// ---------------------------------------------------------------------------
// Running the CLI

/** One entry as `tapline read` prints it (only the fields read here are typed). */
export interface PrintedEntry {
  protocol: { name: string; layer4: string };
  src: { ip: string; port: number };
  dst: { ip: string; port: number };
  request?: Record<string, unknown>;
  response?: Record<string, unknown>;
  error?: { type: string; msg: string };
  issues?: string[];
}

export interface TaplineRun {
  file: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  entries: PrintedEntry[];
  /** The `--summary-json` object from stderr (null when none was printed). */
  summary: Record<string, unknown> | null;
  stderr: string;
}

export interface TaplineRunOptions {
  /** `--workers N`; undefined leaves the default (cores - 1). */
  workers?: number;
  extraArgs?: string[];
  /** Kill after this long (default 120 s). */
  timeoutMs?: number;
}

/** Runs `node bin/tapline.js read FILE --summary-json [--workers N]` and parses what it prints. */
export function runTapline(file: string, opts: TaplineRunOptions = {}): Promise<TaplineRun> {
  const args = [join(repoRoot, 'bin', 'tapline.js'), 'read', file, '--summary-json', '--no-progress', '--format', 'jsonl'];
  if (opts.workers !== undefined) args.push('--workers', String(opts.workers));
  args.push(...(opts.extraArgs ?? []));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 1 << 20) stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      try {
        const entries = Buffer.concat(out)
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as PrintedEntry);
        const line = stderr.split('\n').find((l) => l.startsWith('{'));
        resolve({ file, code, signal, entries, summary: line ? (JSON.parse(line) as Record<string, unknown>) : null, stderr });
      } catch (e) {
        reject(new Error(`tapline read ${file}: unreadable output (${(e as Error).message}); stderr: ${stderr.slice(0, 2000)}`));
      }
    });
  });
}

// ---------------------------------------------------------------------------
// Facts

export interface Facts {
  httpRequests: string[];
  httpResponses: string[];
  httpExchanges: string[];
  dnsQueries: string[];
  dnsResponses: string[];
}

export type FactKind = keyof Facts;
export const FACT_KINDS: readonly FactKind[] = ['httpRequests', 'httpResponses', 'httpExchanges', 'dnsQueries', 'dnsResponses'];

const emptyFacts = (): Facts => ({ httpRequests: [], httpResponses: [], httpExchanges: [], dnsQueries: [], dnsResponses: [] });

const httpRequestFact = (method: string, uri: string, host: string, body: number): string => `${method} ${uri} host=${host} body=${body}`;
const httpResponseFact = (status: number, body: number): string => `${status} body=${body}`;
const httpExchangeFact = (method: string, uri: string, status: number): string => `${method} ${uri} -> ${status}`;

/** tshark writes the root as "<Root>", Tapline as "." (dig's spelling). */
const rootName = (name: string): string => (name === '<Root>' || name === '' ? '.' : name);

const dnsQueryFact = (transport: string, id: number, qtype: string, qname: string): string =>
  `${transport} #${id} ${qtype} ${qname === '' ? '-' : rootName(qname)}`;

const dnsResponseFact = (transport: string, id: number, qtype: string, qname: string, rcode: string, answers: string[]): string =>
  `${dnsQueryFact(transport, id, qtype, qname)} ${rcode} [${[...answers].sort().join(', ')}]`;

/** Types whose data `tsharkDns` writes; any other type is compared by owner and type only. */
const TSHARK_DATA_TYPES = new Set(['A', 'AAAA', 'CNAME', 'PTR', 'NS', 'TXT', 'MX', 'SRV', 'SOA']);

/**
 * Tapline's TXT text is dig's: each string quoted, `\"`, `\\` and `\DDD`
 * escaped, strings separated by a space. tshark shows the strings joined.
 */
export function txtStrings(data: string): string {
  let out = '';
  let i = 0;
  while (i < data.length) {
    if (data[i] !== '"') {
      i++;
      continue;
    }
    i++;
    while (i < data.length && data[i] !== '"') {
      if (data[i] === '\\' && /^\d{3}$/.test(data.slice(i + 1, i + 4))) {
        out += String.fromCharCode(Number(data.slice(i + 1, i + 4)));
        i += 4;
      } else if (data[i] === '\\') {
        out += data[i + 1] ?? '';
        i += 2;
      } else out += data[i++];
    }
    i++;
  }
  return out;
}

/** One Tapline answer record as tsharkDns writes it: "TYPE NAME DATA". */
export function taplineAnswer(r: { name: string; type: string; data: string }): string {
  let data = '';
  if (TSHARK_DATA_TYPES.has(r.type)) {
    if (r.type === 'TXT') data = txtStrings(r.data);
    else if (r.type === 'SOA') data = r.data.split(' ').slice(0, 3).join(' ');
    else data = r.data;
  }
  return `${r.type} ${rootName(r.name)} ${data}`;
}

/** The facts of tshark's view of one file. */
export function tsharkFacts(http: TsharkHttp, dns: TsharkDns): Facts {
  const f = emptyFacts();
  const byFrame = new Map<string, TsharkHttp['requests'][number]>();
  for (const r of http.requests) {
    f.httpRequests.push(httpRequestFact(r.method, r.uri, r.host, r.bodyLength));
    // A frame can end several pipelined requests; request_in then names the frame only.
    byFrame.set(`${r.stream}:${r.frame}`, r);
  }
  for (const r of http.responses) {
    f.httpResponses.push(httpResponseFact(r.status, r.bodyLength));
    const req = r.requestFrame === null ? undefined : byFrame.get(`${r.stream}:${r.requestFrame}`);
    if (req) f.httpExchanges.push(httpExchangeFact(req.method, req.uri, r.status));
  }
  for (const m of dns.messages) {
    if (!m.isResponse) f.dnsQueries.push(dnsQueryFact(m.transport, m.id, m.qtype, m.qname));
    else
      f.dnsResponses.push(
        dnsResponseFact(m.transport, m.id, m.qtype, m.qname, m.rcode, m.answerRecords.map((r) => `${r.type} ${rootName(r.name)} ${r.data}`)),
      );
  }
  return f;
}

interface DnsQuestion {
  name: string;
  type: string;
}
interface DnsRecordJson {
  name: string;
  type: string;
  data: string;
}

/** The facts of Tapline's entries. */
export function taplineFacts(entries: PrintedEntry[]): Facts {
  const f = emptyFacts();
  for (const e of entries) {
    const req = e.request;
    const resp = e.response;
    if (e.protocol.name === 'http') {
      if (req) f.httpRequests.push(httpRequestFact(String(req['method']), String(req['url']), String(req['host']), Number(req['bodySize'])));
      if (resp) f.httpResponses.push(httpResponseFact(Number(resp['status']), Number(resp['bodySize'])));
      if (req && resp) f.httpExchanges.push(httpExchangeFact(String(req['method']), String(req['url']), Number(resp['status'])));
    } else if (e.protocol.name === 'dns') {
      const transport = e.protocol.layer4;
      const q = ((req?.['questions'] as DnsQuestion[] | undefined) ?? [])[0];
      if (req && req['reconstructed'] !== true) f.dnsQueries.push(dnsQueryFact(transport, Number(req['id']), q?.type ?? '', q?.name ?? ''));
      if (resp) {
        const answers = ((resp['answers'] as DnsRecordJson[] | undefined) ?? []).map(taplineAnswer);
        f.dnsResponses.push(dnsResponseFact(transport, Number(resp['id']), q?.type ?? '', q?.name ?? '', String(resp['code']), answers));
      }
    }
  }
  return f;
}

export interface MultisetDiff {
  /** Reported by tshark, not by Tapline. */
  missing: string[];
  /** Reported by Tapline, not by tshark. */
  extra: string[];
}

export function multisetDiff(expected: readonly string[], actual: readonly string[]): MultisetDiff {
  const count = new Map<string, number>();
  for (const s of expected) count.set(s, (count.get(s) ?? 0) + 1);
  const extra: string[] = [];
  for (const s of actual) {
    const n = count.get(s) ?? 0;
    if (n > 0) count.set(s, n - 1);
    else extra.push(s);
  }
  const missing: string[] = [];
  for (const [s, n] of count) for (let i = 0; i < n; i++) missing.push(s);
  return { missing: missing.sort(), extra: extra.sort() };
}

/**
 * Every difference as one line, "KIND missing|extra FACT", sorted: an empty
 * list means the two tools agree. `missing`: tshark has it, Tapline does not.
 */
export function compareFacts(tshark: Facts, tapline: Facts): string[] {
  const lines: string[] = [];
  for (const kind of FACT_KINDS) {
    const d = multisetDiff(tshark[kind], tapline[kind]);
    for (const s of d.missing) lines.push(`${kind} missing ${s}`);
    for (const s of d.extra) lines.push(`${kind} extra ${s}`);
  }
  return lines;
}

export function factCounts(f: Facts): Record<FactKind, number> {
  return Object.fromEntries(FACT_KINDS.map((k) => [k, f[k].length])) as Record<FactKind, number>;
}

// ---------------------------------------------------------------------------
// The corpus: which files hold HTTP or DNS, by tshark (cached) and by Tapline.

/** Bump when what is cached (or how it is computed) changes. */
const CACHE_VERSION = 1;
export const tsharkCacheDir: string = join(tmpdir(), 'tapline-agreement-cache');

let tsharkVersion: string | undefined;
function tsharkVersionLine(): string {
  tsharkVersion ??= execFileSync('tshark', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0] ?? '';
  return tsharkVersion;
}

export interface TsharkView {
  /** Packets matching `http or dns` with tshark's default settings. */
  packets: number;
  http: TsharkHttp;
  dns: TsharkDns;
}

function cacheKey(file: string, opts: TsharkOptions): string {
  const st = statSync(file);
  const h = createHash('sha256')
    .update(JSON.stringify([CACHE_VERSION, tsharkVersionLine(), TSHARK_REASSEMBLY_PREFS, file, st.size, st.mtimeMs, opts.httpPorts ?? [], opts.dnsPorts ?? []]))
    .digest('hex')
    .slice(0, 16);
  return join(tsharkCacheDir, `${basename(file)}.${h}.json`);
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/**
 * tshark's view of a file: a count of `http or dns` packets, and when there
 * are any, every HTTP message and DNS message with reassembly on. Cached in
 * /tmp by file name, size and mtime, tshark's version, its settings and the options.
 */
export async function tsharkView(file: string, opts: TsharkOptions = {}): Promise<TsharkView> {
  const path = cacheKey(file, opts);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as TsharkView;
  } catch {
    /* not cached yet */
  }
  const decodeAs: string[] = [];
  for (const p of opts.httpPorts ?? []) decodeAs.push('-d', `tcp.port==${p},http`);
  for (const p of opts.dnsPorts ?? []) decodeAs.push('-d', `tcp.port==${p},dns`, '-d', `udp.port==${p},dns`);
  const listed = await run('tshark', ['-n', '-r', file, ...decodeAs, '-Y', 'http or dns', '-T', 'fields', '-e', 'frame.number'], opts.timeoutMs ?? 60_000);
  const packets = listed.split('\n').filter((l) => l !== '').length;
  const view: TsharkView = { packets, http: { requests: [], responses: [] }, dns: { messages: [] } };
  if (packets > 0) {
    view.http = await tsharkHttp(file, opts);
    view.dns = await tsharkDns(file, opts);
  }
  mkdirSync(tsharkCacheDir, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(view));
  renameSync(tmp, path);
  return view;
}

/** Runs `work` over `items`, `width` at a time, keeping the order of results. */
export async function pool<T, R>(items: readonly T[], work: (t: T) => Promise<R>, width = Math.max(2, availableParallelism())): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!);
      }
    }),
  );
  return out;
}
