/**
 * One DNS message (RFC 1035 4.1) from its bytes: header, question, answer, authority
 * and additional sections, EDNS (RFC 6891). Never throws: what was read before a
 * failure is kept and the failure is named (`issue`, `issueOffset`).
 */
import { nameEnd, nameIssue, readName, skipName } from './domain-name.js';
import { className, DnsType, ednsOptionName, opcodeName, rcodeName, typeName } from './names.js';
import { genericRdata, rdataIssue, renderRdata } from './rdata.js';
import { ipv4Text, ipv6Text } from '../../decode/index.js';

export interface DnsFlags {
  qr: boolean;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  z: boolean;
  ad: boolean;
  cd: boolean;
}

export interface DnsQuestion {
  name: string;
  type: string;
  class: string;
  /** mDNS (RFC 6762 5.4): the top bit of QCLASS asks for a unicast response. */
  unicastResponse?: boolean;
}

export interface DnsRecord {
  name: string;
  type: string;
  class: string;
  ttl: number;
  data: string;
  /** mDNS (RFC 6762 10.2): the top bit of CLASS is the cache-flush bit. */
  cacheFlush?: boolean;
}

export interface EdnsOption {
  code: number;
  name: string;
  data: string;
}

export interface DnsEdns {
  udpSize: number;
  version: number;
  /** RFC 3225: "DNSSEC OK". */
  do: boolean;
  /** The upper 8 bits of the 12-bit RCODE. */
  extendedRcode: number;
  options: EdnsOption[];
}

export interface DnsMessage {
  id: number;
  qr: boolean;
  opcode: number;
  opCode: string;
  /** The full RCODE: header bits, plus the OPT record's upper bits when present. */
  rcode: number;
  code: string;
  flags: DnsFlags;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
  edns?: DnsEdns;
  /** Message bytes (without the TCP length prefix). */
  size: number;
  /** The failure that stopped reading ('' when the whole message was read). */
  issue: string;
  /** Offset from the message start of the field that failed (a name's first byte, RDLENGTH, …). */
  issueOffset: number;
  /** The header and every question were read (enough to pair the message). */
  questionsRead: boolean;
  /** Odd things that did not stop reading (`dns.bad_rdata`, `dns.records_limit`, …). */
  weird: string[];
}

export interface DnsReadOptions {
  maxRecordsPerSection: number;
  maxPointerHops: number;
  /** Read CLASS top bits as mDNS flags (RFC 6762), on port 5353. */
  mdns: boolean;
  /** Stop after the question section (probing). */
  questionsOnly?: boolean;
}

export const HEADER_SIZE = 12;

/** Reads the message in buf[start, end). */
export function readMessage(buf: Buffer, start: number, end: number, opts: DnsReadOptions): DnsMessage {
  const size = end - start;
  const msg: DnsMessage = {
    id: 0, qr: false, opcode: 0, opCode: 'QUERY', rcode: 0, code: 'NOERROR',
    flags: { qr: false, aa: false, tc: false, rd: false, ra: false, z: false, ad: false, cd: false },
    qdcount: 0, ancount: 0, nscount: 0, arcount: 0,
    questions: [], answers: [], authorities: [], additionals: [],
    size, issue: '', issueOffset: 0, questionsRead: false, weird: [],
  };
  if (size < HEADER_SIZE) return stop(msg, 'dns.truncated', size);
  // RFC 1035 4.1.1: ID, then QR|Opcode|AA|TC|RD|RA|Z|AD|CD|RCODE (RFC 4035 3.2 names AD and CD),
  // then QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT.
  msg.id = buf.readUInt16BE(start);
  const b2 = buf[start + 2];
  const b3 = buf[start + 3];
  msg.qr = (b2 & 0x80) !== 0;
  msg.opcode = (b2 >> 3) & 0x0f;
  msg.opCode = opcodeName(msg.opcode);
  const f = msg.flags;
  f.qr = msg.qr;
  f.aa = (b2 & 0x04) !== 0;
  f.tc = (b2 & 0x02) !== 0;
  f.rd = (b2 & 0x01) !== 0;
  f.ra = (b3 & 0x80) !== 0;
  f.z = (b3 & 0x40) !== 0;
  f.ad = (b3 & 0x20) !== 0;
  f.cd = (b3 & 0x10) !== 0;
  msg.rcode = b3 & 0x0f;
  msg.qdcount = buf.readUInt16BE(start + 4);
  msg.ancount = buf.readUInt16BE(start + 6);
  msg.nscount = buf.readUInt16BE(start + 8);
  msg.arcount = buf.readUInt16BE(start + 10);

  let p = start + HEADER_SIZE;
  const hops = opts.maxPointerHops;
  for (let i = 0; i < msg.qdcount; i++) {
    const name = readName(buf, start, p, end, hops);
    if (nameIssue !== '') return finish(stop(msg, nameIssue, p - start));
    p = nameEnd;
    // RFC 1035 4.1.2: QNAME, then QTYPE and QCLASS, two octets each.
    if (p + 4 > end) return finish(stop(msg, 'dns.truncated', p - start));
    if (i < opts.maxRecordsPerSection) {
      let cls = buf.readUInt16BE(p + 2);
      const q: DnsQuestion = { name, type: typeName(buf.readUInt16BE(p)), class: '' };
      if (opts.mdns && cls & 0x8000) {
        cls &= 0x7fff;
        q.unicastResponse = true;
      }
      q.class = className(cls);
      msg.questions.push(q);
    } else if (i === opts.maxRecordsPerSection) {
      msg.weird.push('dns.records_limit');
    }
    p += 4;
  }
  msg.questionsRead = true;
  if (opts.questionsOnly) return finish(msg);

  p = readSection(buf, start, p, end, msg.ancount, msg.answers, msg, opts);
  if (p >= 0) p = readSection(buf, start, p, end, msg.nscount, msg.authorities, msg, opts);
  if (p >= 0) p = readSection(buf, start, p, end, msg.arcount, msg.additionals, msg, opts);
  // Bytes after the last record are allowed (padding by some stacks) and ignored.
  return finish(msg);
}

function stop(msg: DnsMessage, issue: string, offset: number): DnsMessage {
  msg.issue = issue;
  msg.issueOffset = offset;
  return msg;
}

function finish(msg: DnsMessage): DnsMessage {
  if (msg.edns !== undefined) msg.rcode |= msg.edns.extendedRcode << 4;
  msg.code = rcodeName(msg.rcode);
  return msg;
}

/** Reads `count` records into `out`; returns the offset after them, or -1 after a failure. */
function readSection(
  buf: Buffer, ms: number, p: number, end: number, count: number, out: DnsRecord[], msg: DnsMessage, opts: DnsReadOptions,
): number {
  for (let i = 0; i < count; i++) {
    const nameAt = p;
    let name = '';
    if (i < opts.maxRecordsPerSection) {
      name = readName(buf, ms, p, end, opts.maxPointerHops);
      if (nameIssue !== '') return fail(msg, nameIssue, nameAt - ms);
      p = nameEnd;
    } else {
      // Past the limit the record is stepped over, so the sections after it are still read.
      if (i === opts.maxRecordsPerSection) msg.weird.push('dns.records_limit');
      p = skipName(buf, p, end);
      if (p < 0) return fail(msg, 'dns.truncated', nameAt - ms);
    }
    // RFC 1035 4.1.3: NAME, TYPE (2), CLASS (2), TTL (4), RDLENGTH (2), RDATA.
    if (p + 10 > end) return fail(msg, 'dns.truncated', p - ms);
    const type = buf.readUInt16BE(p);
    let cls = buf.readUInt16BE(p + 2);
    const ttl = buf.readUInt32BE(p + 4);
    const rdlen = buf.readUInt16BE(p + 8);
    const rd = p + 10;
    // RFC 1035 4.1.3: "RDLENGTH an unsigned 16 bit integer that specifies the length in
    // octets of the RDATA field." It may not run past the message.
    if (rd + rdlen > end) return fail(msg, 'dns.truncated', p + 8 - ms);
    p = rd + rdlen;
    if (i >= opts.maxRecordsPerSection) continue;

    if (type === DnsType.OPT) {
      out.push(optRecord(buf, name, cls, ttl, rd, rd + rdlen, msg));
      continue;
    }
    const rec: DnsRecord = { name, type: typeName(type), class: '', ttl, data: '' };
    if (opts.mdns && cls & 0x8000) {
      cls &= 0x7fff;
      rec.cacheFlush = true;
    }
    rec.class = className(cls);
    rec.data = renderRdata(buf, ms, end, rd, rdlen, type, opts.maxPointerHops);
    if (rdataIssue !== '') msg.weird.push(rdataIssue);
    out.push(rec);
  }
  return p;
}

function fail(msg: DnsMessage, issue: string, offset: number): number {
  stop(msg, issue, offset);
  return -1;
}

/**
 * RFC 6891 6.1.2: the OPT pseudo-RR. "CLASS: requestor's UDP payload size"; the TTL
 * holds EXTENDED-RCODE (8 bits), VERSION (8 bits), DO (1 bit) and Z; RDATA is options.
 * The record stays in `additionals` (class `CLASS<size>`, as RFC 3597 writes it) and
 * its meaning goes to `msg.edns`.
 */
function optRecord(buf: Buffer, name: string, cls: number, ttl: number, off: number, end: number, msg: DnsMessage): DnsRecord {
  const edns: DnsEdns = {
    udpSize: cls,
    version: (ttl >>> 16) & 0xff,
    do: (ttl & 0x8000) !== 0,
    extendedRcode: ttl >>> 24,
    options: [],
  };
  let p = off;
  let bad = false;
  while (p < end) {
    // RFC 6891 6.1.2: OPTION-CODE (2 octets), OPTION-LENGTH (2 octets), OPTION-DATA.
    if (p + 4 > end || p + 4 + buf.readUInt16BE(p + 2) > end) {
      bad = true;
      break;
    }
    const code = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    edns.options.push({ code, name: ednsOptionName(code), data: optionText(buf, code, p + 4, p + 4 + len) });
    p += 4 + len;
  }
  if (bad) msg.weird.push('dns.bad_rdata');
  // RFC 6891 6.1.1: "If a query message with more than one OPT RR is received, a FORMERR
  // (RCODE=1) MUST be returned." The first one is the one that counts.
  if (msg.edns === undefined) msg.edns = edns;
  else msg.weird.push('dns.multiple_opt');
  let data = 'udp=' + edns.udpSize + ' version=' + edns.version + (edns.do ? ' do' : '');
  for (const o of edns.options) data += ' ' + o.name + (o.data === '' ? '' : '=' + o.data);
  if (bad) data += ' ' + genericRdata(buf, p, end);
  return { name, type: 'OPT', class: 'CLASS' + cls, ttl, data };
}

/** Option data as text: the ones people read by eye decoded, the rest as hex. */
function optionText(buf: Buffer, code: number, off: number, end: number): string {
  const len = end - off;
  if (code === 8 && len >= 4) {
    // RFC 7871 6: FAMILY (2), SOURCE PREFIX-LENGTH (1), SCOPE PREFIX-LENGTH (1), ADDRESS
    // "truncated to the number of bits indicated by the SOURCE PREFIX-LENGTH field".
    const family = buf.readUInt16BE(off);
    const source = buf[off + 2];
    const scope = buf[off + 3];
    const width = family === 1 ? 4 : family === 2 ? 16 : 0;
    if (width > 0 && len - 4 <= width) {
      const addr = Buffer.alloc(width);
      buf.copy(addr, 0, off + 4, end);
      return (width === 4 ? ipv4Text(addr, 0) : ipv6Text(addr, 0)) + '/' + source + '/' + scope;
    }
  }
  if (code === 15 && len >= 2) {
    // RFC 8914 2: INFO-CODE (2 octets), EXTRA-TEXT (UTF-8).
    const info = buf.readUInt16BE(off);
    return len === 2 ? String(info) : info + ' ' + JSON.stringify(buf.toString('utf8', off + 2, end));
  }
  return buf.toString('hex', off, end);
}
