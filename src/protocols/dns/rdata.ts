/**
 * RDATA as text, by type, in the presentation forms dig prints (RFC 1035 5.1 and each
 * type's RFC). RDATA that does not fit its type falls back to the RFC 3597 generic form
 * and sets `rdataIssue`.
 */
import { nameEnd, nameIssue, readName } from './domain-name.js';
import { DnsType, svcParamName, typeName } from './names.js';
// Address text is the decoder's (RFC 5952), so DNS answers and entry endpoints read alike.
import { ipv4Text, ipv6Text } from '../../decode/index.js';

/** '' when the RDATA was rendered by its type; otherwise the issue code. */
export let rdataIssue = '';

let maxHops = 64;

/**
 * Renders the `len` bytes of RDATA at `off` for `type`. `msgStart`/`msgEnd` bound the
 * message (names inside RDATA may point anywhere before them).
 */
export function renderRdata(
  buf: Buffer, msgStart: number, msgEnd: number, off: number, len: number, type: number, pointerHops: number,
): string {
  rdataIssue = '';
  maxHops = pointerHops;
  const end = off + len;
  const text = renderTyped(buf, msgStart, msgEnd, off, end, type);
  if (text !== undefined) return text;
  if (rdataIssue === '' && KNOWN_LAYOUT.has(type)) rdataIssue = 'dns.bad_rdata';
  return genericRdata(buf, off, end);
}

// Types renderTyped understands: a failure there is bad RDATA, not merely an unknown type.
const KNOWN_LAYOUT = new Set<number>([
  DnsType.A, DnsType.AAAA, DnsType.NS, DnsType.CNAME, DnsType.PTR, DnsType.DNAME, DnsType.MB,
  DnsType.MD, DnsType.MF, DnsType.MG, DnsType.MR, DnsType.MX, DnsType.KX, DnsType.AFSDB, DnsType.RT,
  DnsType.SOA, DnsType.TXT, DnsType.SPF, DnsType.HINFO, DnsType.MINFO, DnsType.RP, DnsType.SRV,
  DnsType.NAPTR, DnsType.CAA, DnsType.DS, DnsType.CDS, DnsType.DNSKEY, DnsType.CDNSKEY, DnsType.KEY,
  DnsType.RRSIG, DnsType.SIG, DnsType.NSEC, DnsType.SSHFP, DnsType.TLSA, DnsType.SVCB, DnsType.HTTPS,
  DnsType.URI,
]);

/** RFC 3597 5: "\# <length> <hex>" for RDATA of a type the reader does not render. */
export function genericRdata(buf: Buffer, off: number, end: number): string {
  if (end <= off) return '\\# 0';
  return '\\# ' + (end - off) + ' ' + buf.toString('hex', off, end).toUpperCase();
}

/** undefined: the bytes do not fit the type (or the type has no renderer). */
function renderTyped(buf: Buffer, ms: number, me: number, off: number, end: number, type: number): string | undefined {
  const len = end - off;
  switch (type) {
    case DnsType.A:
      return len === 4 ? ipv4Text(buf, off) : undefined;
    case DnsType.AAAA:
      return len === 16 ? ipv6Text(buf, off) : undefined;
    case DnsType.NS: case DnsType.CNAME: case DnsType.PTR: case DnsType.DNAME: case DnsType.MB:
    case DnsType.MD: case DnsType.MF: case DnsType.MG: case DnsType.MR: {
      const name = rdName(buf, ms, me, off, end);
      return name !== undefined && nameEnd === end ? name : undefined;
    }
    case DnsType.MX: case DnsType.KX: case DnsType.AFSDB: case DnsType.RT: {
      if (len < 3) return undefined;
      const name = rdName(buf, ms, me, off + 2, end);
      return name !== undefined && nameEnd === end ? buf.readUInt16BE(off) + ' ' + name : undefined;
    }
    case DnsType.SOA:
      return soaText(buf, ms, me, off, end);
    case DnsType.TXT: case DnsType.SPF: case DnsType.HINFO:
      return len > 0 ? characterStrings(buf, off, end) : undefined;
    case DnsType.MINFO: case DnsType.RP: {
      const a = rdName(buf, ms, me, off, end);
      if (a === undefined) return undefined;
      const b = rdName(buf, ms, me, nameEnd, end);
      return b !== undefined && nameEnd === end ? a + ' ' + b : undefined;
    }
    case DnsType.SRV: {
      if (len < 7) return undefined;
      const name = rdName(buf, ms, me, off + 6, end);
      if (name === undefined || nameEnd !== end) return undefined;
      return buf.readUInt16BE(off) + ' ' + buf.readUInt16BE(off + 2) + ' ' + buf.readUInt16BE(off + 4) + ' ' + name;
    }
    case DnsType.NAPTR:
      return naptrText(buf, ms, me, off, end);
    case DnsType.CAA:
      return caaText(buf, off, end);
    case DnsType.DS: case DnsType.CDS:
      if (len < 5) return undefined;
      return buf.readUInt16BE(off) + ' ' + buf[off + 2] + ' ' + buf[off + 3] + ' ' + hexUpper(buf, off + 4, end);
    case DnsType.DNSKEY: case DnsType.CDNSKEY: case DnsType.KEY:
      if (len < 5) return undefined;
      return buf.readUInt16BE(off) + ' ' + buf[off + 2] + ' ' + buf[off + 3] + ' ' + buf.toString('base64', off + 4, end);
    case DnsType.RRSIG: case DnsType.SIG:
      return rrsigText(buf, ms, me, off, end);
    case DnsType.NSEC: {
      const next = rdName(buf, ms, me, off, end);
      if (next === undefined) return undefined;
      const types = typeBitmap(buf, nameEnd, end);
      return types === undefined ? undefined : types === '' ? next : next + ' ' + types;
    }
    case DnsType.SSHFP:
      if (len < 3) return undefined;
      return buf[off] + ' ' + buf[off + 1] + ' ' + hexUpper(buf, off + 2, end);
    case DnsType.TLSA:
      if (len < 4) return undefined;
      return buf[off] + ' ' + buf[off + 1] + ' ' + buf[off + 2] + ' ' + hexUpper(buf, off + 3, end);
    case DnsType.SVCB: case DnsType.HTTPS:
      return svcbText(buf, ms, me, off, end);
    case DnsType.URI:
      if (len < 4) return undefined;
      return buf.readUInt16BE(off) + ' ' + buf.readUInt16BE(off + 2) + ' ' + quoted(buf, off + 4, end);
    default:
      return undefined;
  }
}

/** A name inside RDATA: it may be compressed, but must end inside the RDATA. */
function rdName(buf: Buffer, ms: number, me: number, off: number, end: number): string | undefined {
  if (off >= end) return undefined;
  const name = readName(buf, ms, off, me, maxHops);
  if (nameIssue !== '') {
    rdataIssue = nameIssue;
    return undefined;
  }
  return nameEnd <= end ? name : undefined;
}

function soaText(buf: Buffer, ms: number, me: number, off: number, end: number): string | undefined {
  const mname = rdName(buf, ms, me, off, end);
  if (mname === undefined) return undefined;
  const rname = rdName(buf, ms, me, nameEnd, end);
  if (rname === undefined) return undefined;
  const p = nameEnd;
  // RFC 1035 3.3.13: SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM — five 32-bit fields.
  if (end - p !== 20) return undefined;
  return mname + ' ' + rname + ' ' + buf.readUInt32BE(p) + ' ' + buf.readUInt32BE(p + 4) + ' ' +
    buf.readUInt32BE(p + 8) + ' ' + buf.readUInt32BE(p + 12) + ' ' + buf.readUInt32BE(p + 16);
}

/** RFC 1035 3.3: <character-string> "is a single length octet followed by that number of characters". */
function characterStrings(buf: Buffer, off: number, end: number): string | undefined {
  let out = '';
  let p = off;
  while (p < end) {
    const n = buf[p];
    if (p + 1 + n > end) return undefined;
    out += (out === '' ? '' : ' ') + quoted(buf, p + 1, p + 1 + n);
    p += 1 + n;
  }
  return out;
}

/** A quoted string as dig prints it: `"` and `\` escaped, unprintable bytes as \DDD. */
function quoted(buf: Buffer, start: number, end: number): string {
  return '"' + escapedText(buf, start, end) + '"';
}

function escapedText(buf: Buffer, start: number, end: number): string {
  let i = start;
  while (i < end) {
    const b = buf[i];
    if (b < 0x20 || b > 0x7e || b === 0x22 || b === 0x5c) break;
    i++;
  }
  if (i === end) return buf.toString('latin1', start, end);
  let out = buf.toString('latin1', start, i);
  for (; i < end; i++) {
    const b = buf[i];
    if (b === 0x22 || b === 0x5c) out += '\\' + String.fromCharCode(b);
    else if (b < 0x20 || b > 0x7e) out += '\\' + String(b).padStart(3, '0');
    else out += String.fromCharCode(b);
  }
  return out;
}

function naptrText(buf: Buffer, ms: number, me: number, off: number, end: number): string | undefined {
  // RFC 3403 4.1: ORDER, PREFERENCE, FLAGS, SERVICES, REGEXP (character-strings), REPLACEMENT.
  if (end - off < 4) return undefined;
  let p = off + 4;
  let strings = '';
  for (let i = 0; i < 3; i++) {
    if (p >= end || p + 1 + buf[p] > end) return undefined;
    strings += ' ' + quoted(buf, p + 1, p + 1 + buf[p]);
    p += 1 + buf[p];
  }
  const replacement = rdName(buf, ms, me, p, end);
  if (replacement === undefined || nameEnd !== end) return undefined;
  return buf.readUInt16BE(off) + ' ' + buf.readUInt16BE(off + 2) + strings + ' ' + replacement;
}

function caaText(buf: Buffer, off: number, end: number): string | undefined {
  // RFC 8659 4.1: Flags (1 octet), Tag Length (1 octet), Tag, Value (the rest).
  if (end - off < 2) return undefined;
  const tagLen = buf[off + 1];
  if (tagLen === 0 || off + 2 + tagLen > end) return undefined;
  return buf[off] + ' ' + escapedText(buf, off + 2, off + 2 + tagLen) + ' ' + quoted(buf, off + 2 + tagLen, end);
}

function rrsigText(buf: Buffer, ms: number, me: number, off: number, end: number): string | undefined {
  // RFC 4034 3.1: Type Covered, Algorithm, Labels, Original TTL, Signature Expiration,
  // Signature Inception, Key Tag, Signer's Name, Signature.
  if (end - off < 19) return undefined;
  const signer = rdName(buf, ms, me, off + 18, end);
  if (signer === undefined) return undefined;
  return typeName(buf.readUInt16BE(off)) + ' ' + buf[off + 2] + ' ' + buf[off + 3] + ' ' +
    buf.readUInt32BE(off + 4) + ' ' + sigTime(buf.readUInt32BE(off + 8)) + ' ' +
    sigTime(buf.readUInt32BE(off + 12)) + ' ' + buf.readUInt16BE(off + 16) + ' ' + signer + ' ' +
    buf.toString('base64', nameEnd, end);
}

/** RFC 4034 3.2: "YYYYMMDDHHmmSS in UTC". */
function sigTime(sec: number): string {
  const d = new Date(sec * 1000);
  return String(d.getUTCFullYear()).padStart(4, '0') + two(d.getUTCMonth() + 1) + two(d.getUTCDate()) +
    two(d.getUTCHours()) + two(d.getUTCMinutes()) + two(d.getUTCSeconds());
}

function two(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** RFC 4034 4.1.2: windows of (window number, bitmap length 1-32, bitmap). */
function typeBitmap(buf: Buffer, off: number, end: number): string | undefined {
  let out = '';
  let p = off;
  while (p < end) {
    if (p + 2 > end) return undefined;
    const window = buf[p];
    const n = buf[p + 1];
    if (n < 1 || n > 32 || p + 2 + n > end) return undefined;
    for (let i = 0; i < n; i++) {
      const bits = buf[p + 2 + i];
      for (let bit = 0; bit < 8; bit++) {
        if (bits & (0x80 >> bit)) out += (out === '' ? '' : ' ') + typeName(window * 256 + i * 8 + bit);
      }
    }
    p += 2 + n;
  }
  return out;
}

function svcbText(buf: Buffer, ms: number, me: number, off: number, end: number): string | undefined {
  // RFC 9460 2.2: SvcPriority (2 octets), TargetName (uncompressed), SvcParams.
  if (end - off < 3) return undefined;
  const target = rdName(buf, ms, me, off + 2, end);
  if (target === undefined) return undefined;
  let out = buf.readUInt16BE(off) + ' ' + target;
  let p = nameEnd;
  let lastKey = -1;
  while (p < end) {
    if (p + 4 > end) return undefined;
    const key = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    const v = p + 4;
    const ve = v + len;
    // RFC 9460 2.2: "SvcParamKeys SHALL appear in increasing numeric order."
    if (ve > end || key <= lastKey) return undefined;
    lastKey = key;
    const value = svcParamValue(buf, key, v, ve);
    if (value === undefined) return undefined;
    out += ' ' + svcParamName(key) + value;
    p = ve;
  }
  return out;
}

/** `=value` as dig prints it, '' for a key without a value, undefined when malformed. */
function svcParamValue(buf: Buffer, key: number, v: number, ve: number): string | undefined {
  const len = ve - v;
  switch (key) {
    case 0: { // mandatory: a list of keys
      if (len === 0 || len % 2 !== 0) return undefined;
      let s = '';
      for (let p = v; p < ve; p += 2) s += (s === '' ? '' : ',') + svcParamName(buf.readUInt16BE(p));
      return '=' + s;
    }
    case 1: { // alpn: character-strings
      let s = '';
      let p = v;
      while (p < ve) {
        const n = buf[p];
        if (n === 0 || p + 1 + n > ve) return undefined;
        s += (s === '' ? '' : ',') + escapedText(buf, p + 1, p + 1 + n).replaceAll(',', '\\\\,');
        p += 1 + n;
      }
      return s === '' ? undefined : '="' + s + '"';
    }
    case 2: // no-default-alpn: "the value MUST be empty"
      return len === 0 ? '' : undefined;
    case 3:
      return len === 2 ? '=' + buf.readUInt16BE(v) : undefined;
    case 4: {
      if (len === 0 || len % 4 !== 0) return undefined;
      let s = '';
      for (let p = v; p < ve; p += 4) s += (s === '' ? '' : ',') + ipv4Text(buf, p);
      return '=' + s;
    }
    case 6: {
      if (len === 0 || len % 16 !== 0) return undefined;
      let s = '';
      for (let p = v; p < ve; p += 16) s += (s === '' ? '' : ',') + ipv6Text(buf, p);
      return '=' + s;
    }
    case 5: // ech: base64 of the ECHConfigList
      return '=' + buf.toString('base64', v, ve);
    default:
      return len === 0 ? '' : '=' + quoted(buf, v, ve);
  }
}

function hexUpper(buf: Buffer, off: number, end: number): string {
  return buf.toString('hex', off, end).toUpperCase();
}

