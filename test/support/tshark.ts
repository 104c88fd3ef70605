// The oracle: what Wireshark's dissectors (via tshark) see in a capture file,
// reduced to the few facts our own dissectors must agree with.
//
// tshark prints PDML (-T pdml), one XML element per line, and we read it as a
// stream. PDML is used instead of `-T fields` or `-T json` because it is the
// only output that gives a field's exact byte length (`size="N"`): `-T fields`
// prints a body as lossy text, and JSON merges repeated keys.
//
// Fields read, and what they mean:
//   frame.number               1-based position of the packet in the file.
//   tcp.stream                 tshark's 0-based connection index, in order of first packet.
//   http.request.method, http.request.uri, http.host
//                              from the request line and Host header, as sent.
//   http.response.code         the status code of the response line.
//   http.request_in            on a response: frame of the request it answers.
//   http.content_length_header the Content-Length header as sent (absent when chunked).
//   http.file_data (size=)     the message body AFTER de-chunking and decompression
//                              (both switched on below). This is `bodyLength`: it is
//                              absent, and bodyLength 0, when the message has no body
//                              (HEAD answers, 204, 304, GETs), even if Content-Length
//                              says otherwise. If tshark cannot decompress, file_data
//                              is the still-encoded body.
//   dns.id, dns.flags.response, dns.flags.rcode, dns.qry.name, dns.qry.type
//                              the header, and the first question.
//   dns.resp.* inside "Answers" the answer section only (authority and additional
//                              records are left out), one record per answer.
//
// A TCP segment that completes several PDUs carries several <proto name="http"|"dns">
// elements: each becomes one item with the same frame number.

import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Why the tests that compare with tshark cannot run here (a skip reason), or null when they can. */
export function tsharkMissing(): string | null {
  return spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0 ? null : 'tshark is not installed';
}

/**
 * Reassembly settings, all on: tshark then shows one HTTP message per request
 * or response however many TCP segments it spans, its body de-chunked and
 * decompressed, and one DNS message per length-prefixed TCP message.
 */
export const TSHARK_REASSEMBLY_PREFS: readonly string[] = [
  'tcp.desegment_tcp_streams:TRUE',
  // Off by default: a PDU with a segment captured out of order (common on a busy veth,
  // where both ends run on different CPUs) would then never be reassembled.
  'tcp.reassemble_out_of_order:TRUE',
  'tcp.analyze_sequence_numbers:TRUE',
  'http.desegment_headers:TRUE',
  'http.desegment_body:TRUE',
  'http.dechunk_body:TRUE',
  'http.decompress_body:TRUE',
  'dns.desegment_dns_messages:TRUE',
];

export interface TsharkOptions {
  /** TCP ports to decode as HTTP besides tshark's defaults (80, 8080 and others): `-d tcp.port==N,http`. */
  httpPorts?: number[];
  /** UDP and TCP ports to decode as DNS besides 53 and tshark's other defaults: `-d udp.port==N,dns -d tcp.port==N,dns`. */
  dnsPorts?: number[];
  /** Kill tshark after this long (default 120 s). */
  timeoutMs?: number;
}

export interface TsharkHttpRequest {
  frame: number;
  stream: number;
  method: string;
  uri: string;
  host: string;
  /** Decoded body length (see http.file_data above). */
  bodyLength: number;
  contentLength: number | null;
}

export interface TsharkHttpResponse {
  frame: number;
  stream: number;
  status: number;
  /** Decoded body length: de-chunked, decompressed; 0 without a body. */
  bodyLength: number;
  /** Content-Length header as sent, null when absent. */
  contentLength: number | null;
  /** Frame of the request this answers, null when tshark saw none. */
  requestFrame: number | null;
  transferEncoding: string | null;
  contentEncoding: string | null;
}

export interface TsharkHttp {
  requests: TsharkHttpRequest[];
  responses: TsharkHttpResponse[];
}

export interface TsharkDnsRecord {
  name: string;
  /** Mnemonic: A, AAAA, CNAME, TXT, MX, SRV, PTR, NS, SOA, or TYPEn. */
  type: string;
  ttl: number;
  /**
   * A/AAAA: the address; CNAME/PTR/NS: the target name; TXT: the strings
   * joined without separator; MX: "pref exchange"; SRV: "priority weight port target".
   */
  data: string;
}

export interface TsharkDnsMessage {
  frame: number;
  transport: 'udp' | 'tcp';
  id: number;
  isResponse: boolean;
  /** First question's name ('' when there is none). */
  qname: string;
  /** First question's type mnemonic. */
  qtype: string;
  /** NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, … (queries carry NOERROR). */
  rcode: string;
  /** Answer section as "TYPE data", e.g. "A 192.0.2.10", "MX 10 mail.example.test". */
  answers: string[];
  answerRecords: TsharkDnsRecord[];
}

export interface TsharkDns {
  messages: TsharkDnsMessage[];
}

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

/** One PDML <field>: the attributes we use. */
interface PdmlField {
  name: string;
  showname: string;
  show: string;
  size: number;
}

/** One <proto name="http"|"dns"> element: its fields in order, each tagged with the unnamed section it sits in. */
interface PdmlProto {
  frame: number;
  stream: number;
  transport: 'udp' | 'tcp' | null;
  fields: { field: PdmlField; section: string }[];
}

const attr = (line: string, key: string): string | null => {
  // Values never hold a raw double quote (PDML escapes it as &quot;).
  const i = line.indexOf(` ${key}="`);
  if (i < 0) return null;
  const start = i + key.length + 3;
  return line.slice(start, line.indexOf('"', start));
};

function unescapeXml(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|quot|apos|lt|gt|amp);/g, (_, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ({ quot: '"', apos: "'", lt: '<', gt: '>', amp: '&' } as Record<string, string>)[e]!;
  });
}

/**
 * Runs tshark with PDML output and hands every <proto name=...> of the wanted
 * protocols to `onProto`. Only the attributes of <field> lines are read; the
 * huge `value=` hex of bodies is never unescaped.
 */
async function readPdml(file: string, displayFilter: string, protos: ReadonlySet<string>, opts: TsharkOptions, onProto: (name: string, p: PdmlProto) => void): Promise<void> {
  const args = ['-r', file, '-n', '-T', 'pdml', '-Y', displayFilter];
  for (const pref of TSHARK_REASSEMBLY_PREFS) args.push('-o', pref);
  for (const port of opts.httpPorts ?? []) args.push('-d', `tcp.port==${port},http`);
  for (const port of opts.dnsPorts ?? []) args.push('-d', `udp.port==${port},dns`, '-d', `tcp.port==${port},dns`);
  const child = spawn('tshark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (stderr.length < 8192) stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));

  let frame = 0;
  let stream = -1;
  let transport: 'udp' | 'tcp' | null = null;
  let current: { name: string; proto: PdmlProto } | null = null;
  // Unnamed grouping fields ("Queries", "Answers", …) open sections; a stack tracks where each ends.
  const sections: string[] = [];
  let groupCount = 0;
  const rl = createInterface({ input: child.stdout, crlfDelay: Infinity });
  for await (const raw of rl) {
    const line = raw.trimStart();
    if (line.startsWith('<packet>')) {
      frame = 0;
      stream = -1;
      transport = null;
    } else if (line.startsWith('<proto ')) {
      const name = attr(line, 'name') ?? '';
      if (name === 'tcp' || name === 'udp') transport = name;
      if (protos.has(name)) {
        current = { name, proto: { frame, stream, transport, fields: [] } };
        sections.length = 0;
        groupCount = 0;
      }
    } else if (line.startsWith('</proto>')) {
      if (current) onProto(current.name, current.proto);
      current = null;
    } else if (line.startsWith('<field ')) {
      const name = attr(line, 'name') ?? '';
      const selfClosing = line.endsWith('/>');
      if (name === 'frame.number') frame = Number(attr(line, 'show'));
      else if (name === 'tcp.stream' && stream < 0) stream = Number(attr(line, 'show'));
      if (current) {
        if (name === '' && !selfClosing) {
          // "Answers" at the top; each record inside it becomes "Answers/0", "Answers/1", …
          const top = sections[sections.length - 1];
          if (top === undefined) sections.push(unescapeXml(attr(line, 'show') ?? ''));
          else if (!top.includes('/')) sections.push(`${top}/${groupCount++}`);
          else sections.push(top);
        } else {
          const field: PdmlField = {
            name,
            showname: name === 'http.file_data' ? '' : unescapeXml(attr(line, 'showname') ?? ''),
            show: name === 'http.file_data' ? '' : unescapeXml(attr(line, 'show') ?? ''),
            size: Number(attr(line, 'size') ?? 0),
          };
          current.proto.fields.push({ field, section: sections[sections.length - 1] ?? '' });
          if (!selfClosing) sections.push(sections[sections.length - 1] ?? '');
        }
      }
    } else if (line.startsWith('</field>')) {
      if (current) sections.pop();
    }
  }
  const code = await exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`tshark ${args.join(' ')} exited ${code}: ${stderr}`);
}

function first(p: PdmlProto, name: string): PdmlField | undefined {
  return p.fields.find((f) => f.field.name === name)?.field;
}

function numOrNull(s: string | undefined): number | null {
  if (s === undefined || s === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

/** Every HTTP/1.x request and response tshark dissects in `file`. */
export async function tsharkHttp(file: string, opts: TsharkOptions = {}): Promise<TsharkHttp> {
  const out: TsharkHttp = { requests: [], responses: [] };
  await readPdml(file, 'http', new Set(['http']), opts, (_, p) => {
    const body = first(p, 'http.file_data');
    const bodyLength = body ? body.size : 0;
    const contentLength = numOrNull(first(p, 'http.content_length_header')?.show);
    const method = first(p, 'http.request.method');
    if (method) {
      out.requests.push({
        frame: p.frame,
        stream: p.stream,
        method: method.show,
        uri: first(p, 'http.request.uri')?.show ?? '',
        host: first(p, 'http.host')?.show ?? '',
        bodyLength,
        contentLength,
      });
      return;
    }
    const code = first(p, 'http.response.code');
    if (code) {
      out.responses.push({
        frame: p.frame,
        stream: p.stream,
        status: Number(code.show),
        bodyLength,
        contentLength,
        requestFrame: numOrNull(first(p, 'http.request_in')?.show),
        transferEncoding: first(p, 'http.transfer_encoding')?.show ?? null,
        contentEncoding: first(p, 'http.content_encoding')?.show ?? null,
      });
    }
  });
  return out;
}

function stripQuotes(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

/** "Type: MX (Mail eXchange) (15)" → "MX"; "Type: Unknown (65280)" → "TYPE65280". */
function typeMnemonic(f: PdmlField | undefined): string {
  if (!f) return '';
  const m = /^Type: (\S+)/.exec(f.showname);
  if (m && m[1] !== 'Unknown') return m[1]!;
  return `TYPE${f.show}`;
}

/** Every DNS message (UDP, and TCP after reassembly) tshark dissects in `file`. */
export async function tsharkDns(file: string, opts: TsharkOptions = {}): Promise<TsharkDns> {
  const messages: TsharkDnsMessage[] = [];
  await readPdml(file, 'dns', new Set(['dns']), opts, (_, p) => {
    const answerRecords: TsharkDnsRecord[] = [];
    // Group the answer section's fields by record ("Answers/0", "Answers/1", …).
    const groups = new Map<string, Map<string, string>>();
    for (const { field, section } of p.fields) {
      if (!section.startsWith('Answers/')) continue;
      let g = groups.get(section);
      if (!g) groups.set(section, (g = new Map()));
      if (field.name === 'dns.resp.type') g.set('type', typeMnemonic(field));
      // A TXT record holds one or more strings; tshark shows each with its quotes.
      else if (field.name === 'dns.txt') g.set('dns.txt', (g.get('dns.txt') ?? '') + stripQuotes(field.show));
      else if (!g.has(field.name)) g.set(field.name, field.show);
    }
    for (const g of groups.values()) {
      const d = (k: string): string => g.get(k) ?? '';
      const type = d('type');
      // tshark splits an SRV owner name into service, protocol and name.
      const name = g.has('dns.resp.name') ? d('dns.resp.name') : `${d('dns.srv.service')}.${d('dns.srv.proto')}.${d('dns.srv.name')}`;
      let data: string;
      switch (type) {
        case 'A': data = d('dns.a'); break;
        case 'AAAA': data = d('dns.aaaa'); break;
        case 'CNAME': data = d('dns.cname'); break;
        case 'PTR': data = d('dns.ptr.domain_name'); break;
        case 'NS': data = d('dns.ns'); break;
        case 'TXT': data = d('dns.txt'); break;
        case 'MX': data = `${d('dns.mx.preference')} ${d('dns.mx.mail_exchange')}`; break;
        case 'SRV': data = `${d('dns.srv.priority')} ${d('dns.srv.weight')} ${d('dns.srv.port')} ${d('dns.srv.target')}`; break;
        case 'SOA': data = `${d('dns.soa.mname')} ${d('dns.soa.rname')} ${d('dns.soa.serial_number')}`; break;
        default: data = '';
      }
      answerRecords.push({ name, type, ttl: Number(d('dns.resp.ttl')), data });
    }
    const rcode = Number(first(p, 'dns.flags.rcode')?.show ?? 0);
    const queries = p.fields.filter((f) => f.section.startsWith('Queries'));
    messages.push({
      frame: p.frame,
      transport: p.transport ?? 'udp',
      id: parseInt(first(p, 'dns.id')?.show ?? '0', 16),
      isResponse: first(p, 'dns.flags.response')?.show === '1',
      qname: queries.find((f) => f.field.name === 'dns.qry.name')?.field.show ?? '',
      qtype: typeMnemonic(queries.find((f) => f.field.name === 'dns.qry.type')?.field),
      rcode: RCODES[rcode] ?? `RCODE${rcode}`,
      answers: answerRecords.map((r) => `${r.type} ${r.data}`),
      answerRecords,
    });
  });
  return { messages };
}

/** Packet count of a capture file, from capinfos (another oracle for "the file is complete"). */
export async function capinfosPackets(file: string): Promise<number> {
  const child = spawn('capinfos', ['-M', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((r) => child.once('close', r));
  const m = /Number of packets:\s+(\d+)/.exec(out);
  if (code !== 0 || !m) throw new Error(`capinfos ${file} failed (${code}): ${out}`);
  return Number(m[1]);
}
