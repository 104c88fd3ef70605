/**
 * The DNS parser of one flow: frames messages (a UDP datagram is one message; TCP
 * carries a two-byte length before each), reads them, and pairs each query with its
 * response by message ID and first question. See README.md for the choices.
 */
import type { Direction } from '../../reassembly/types.js';
import type { ParsedItem, ParserContext, ProtocolParser, ProtocolTag } from '../types.js';
import { readMessage, type DnsMessage, type DnsReadOptions } from './message.js';
import { looksLikeDns } from './probe.js';
import { keepWire, requestFields, responseFields, type DnsWire } from './wire.js';

/** Named limits (DESIGN.md: every limit is named, configurable and counted when hit). */
export const dnsLimits = {
  /** Largest message read (bytes); larger TCP messages are skipped (`dns.message_too_large`). */
  maxMessageSize: 65535,
  /** Records kept per section; the rest are stepped over (`dns.records_limit`). */
  maxRecordsPerSection: 1000,
  /** Queries waiting for a response on one flow; the oldest is given up past it (`dns.pending_limit`). */
  maxPendingQueries: 1024,
  /** Compression pointers followed in one name (`dns.bad_pointer`). */
  maxPointerHops: 64,
} as const;

interface PendingQuery {
  msg: DnsMessage;
  /** The message's bytes (ParserSettings.dnsWire). */
  wire: DnsWire | undefined;
  dir: Direction;
  sec: number;
  nsec: number;
}

/** Per direction of a TCP connection: the bytes of a message not yet complete. */
interface TcpSide {
  /** Copies of the segments holding the incomplete message, joined once it is whole. */
  held: Buffer[];
  heldBytes: number;
  /** When the first byte of the held message arrived. */
  sec: number;
  nsec: number;
  /** Bytes still to drop from a message over the size limit. */
  skip: number;
  /** A gap broke the framing: wait for a segment that starts with a message. */
  lost: boolean;
}

export function createDnsParser(ctx: ParserContext): ProtocolParser {
  return new DnsParser(ctx);
}

class DnsParser implements ProtocolParser {
  private readonly ctx: ParserContext;
  private readonly tag: ProtocolTag;
  private readonly read: DnsReadOptions;
  private readonly maxMessageSize: number;
  private readonly maxPending: number;
  private readonly timeoutSec: number;
  private readonly mdns: boolean;
  /** Records keep their messages' bytes (ParserSettings.dnsWire, wire.ts). */
  private readonly keepWire: boolean;
  /** Waiting queries in arrival order (Map keeps insertion order), keyed by pairKey. */
  private readonly pending = new Map<string, PendingQuery>();
  private readonly sides: [TcpSide, TcpSide] = [newSide(), newSide()];
  private confirmed = false;
  private dead = false;

  constructor(ctx: ParserContext) {
    this.ctx = ctx;
    const conn = ctx.conn;
    this.tag = { name: 'dns', version: '', abbr: 'DNS', layer4: conn.transport };
    this.mdns = conn.client.port === 5353 || conn.server.port === 5353;
    this.read = {
      maxRecordsPerSection: limit(ctx, 'maxRecordsPerSection'),
      maxPointerHops: limit(ctx, 'maxPointerHops'),
      mdns: this.mdns,
    };
    this.maxMessageSize = limit(ctx, 'maxMessageSize');
    this.maxPending = limit(ctx, 'maxPendingQueries');
    this.timeoutSec = ctx.settings.pairTimeoutSec;
    this.keepWire = ctx.settings.dnsWire;
  }

  onData(dir: Direction, data: Buffer, sec: number, nsec: number): void {
    if (this.dead) return;
    this.expire(sec, nsec);
    if (this.ctx.conn.transport === 'udp') {
      if (data.length > this.maxMessageSize) {
        this.ctx.weird('dns.message_too_large');
        return;
      }
      if (!this.confirmed && looksLikeDns(data, 0, data.length, data.length) === 'no') {
        this.giveUp('the datagram is not a DNS message');
        return;
      }
      this.onMessage(dir, data, 0, data.length, sec, nsec, sec, nsec);
    } else {
      this.onStream(dir, data, sec, nsec);
    }
  }

  onGap(dir: Direction, length: number): void {
    const side = this.sides[dir];
    // A gap inside a message being skipped anyway keeps the framing.
    if (side.heldBytes === 0 && side.skip >= length) {
      side.skip -= length;
      return;
    }
    drop(side);
    side.skip = 0;
    if (!side.lost) this.ctx.weird('dns.resync');
    side.lost = true;
  }

  onClose(sec: number, nsec: number): void {
    this.expire(sec, nsec);
    for (const q of this.pending.values()) this.emitUnanswered(q, 'no response before the flow ended');
    this.pending.clear();
    drop(this.sides[0]);
    drop(this.sides[1]);
  }

  onIdle(sec: number, nsec: number): void {
    if (!this.dead) this.expire(sec, nsec);
  }

  /** RFC 1035 4.2.2: "The message is prefixed with a two byte length field". */
  private onStream(dir: Direction, data: Buffer, sec: number, nsec: number): void {
    const side = this.sides[dir];
    let chunk = data;
    if (side.skip > 0) {
      const n = Math.min(side.skip, chunk.length);
      side.skip -= n;
      chunk = chunk.subarray(n);
      if (chunk.length === 0) return;
    }
    if (side.lost) {
      // After a gap, only a segment that begins with a plausible message restarts the framing.
      if (chunk.length < 2 || looksLikeDns(chunk, 2, chunk.length, chunk.readUInt16BE(0)) === 'no') return;
      side.lost = false;
    }
    if (side.heldBytes > 0) {
      // Segments are gathered until the message they belong to is whole, then joined once
      // (joining at every segment would copy a large message over and over).
      const total = side.heldBytes + chunk.length;
      const first = side.held[0];
      // The held bytes begin a message; once its length is known (and within the limit),
      // wait for all of it. Before confirmation every segment is re-checked instead.
      if (this.confirmed && first.length >= 2 && first.readUInt16BE(0) <= this.maxMessageSize &&
        total < 2 + first.readUInt16BE(0)) {
        side.held.push(Buffer.from(chunk));
        side.heldBytes = total;
        return;
      }
      side.held.push(chunk);
      chunk = Buffer.concat(side.held, total);
      drop(side);
    } else {
      side.sec = sec;
      side.nsec = nsec;
    }
    if (!this.confirmed && chunk.length >= 2) {
      // Before the flow is known to be DNS (no message read yet, so `chunk` is the stream's
      // start), a length prefix that leads to no DNS header ends it.
      const len = chunk.readUInt16BE(0);
      if (len > this.maxMessageSize || looksLikeDns(chunk, 2, chunk.length, len) === 'no') {
        this.giveUp('the stream does not start with a DNS message');
        return;
      }
    }
    let p = 0;
    while (chunk.length - p >= 2) {
      const len = chunk.readUInt16BE(p);
      if (len > this.maxMessageSize) {
        this.ctx.weird('dns.message_too_large');
        const have = chunk.length - p - 2;
        if (have >= len) {
          p += 2 + len;
          continue;
        }
        side.skip = len - have;
        return;
      }
      if (chunk.length - p - 2 < len) break;
      this.onMessage(dir, chunk, p + 2, p + 2 + len, side.sec, side.nsec, sec, nsec);
      if (this.dead) return;
      p += 2 + len;
      // The next message's first byte is in this segment.
      side.sec = sec;
      side.nsec = nsec;
    }
    // Copy what is kept: a view would pin the source's (possibly large) buffer.
    if (p < chunk.length) {
      side.held.push(Buffer.from(chunk.subarray(p)));
      side.heldBytes = chunk.length - p;
    }
  }

  private onMessage(
    dir: Direction, buf: Buffer, start: number, end: number, sec: number, nsec: number, endSec: number, endNsec: number,
  ): void {
    const msg = readMessage(buf, start, end, this.read);
    for (const code of msg.weird) this.ctx.weird(code);
    if (msg.issue !== '') {
      if (!msg.questionsRead && !this.confirmed) {
        this.giveUp(msg.issue + ' at offset ' + msg.issueOffset);
        return;
      }
      this.ctx.weird('dns.malformed');
      this.ctx.weird(msg.issue);
      // Without its questions (or with none to show) a broken message cannot be paired or shown.
      if (!msg.questionsRead || msg.questions.length === 0) return;
    }
    if (!this.confirmed) {
      this.confirmed = true;
      this.ctx.confirm();
    }
    // A copy: `buf` may be a capture's buffer, or a joined TCP message that is reused.
    const wire = this.keepWire ? { bytes: Buffer.from(buf.subarray(start, end)), opts: this.read } : undefined;
    // Roles come from the QR bit, not from the direction: the flow table may have guessed them wrong.
    if (msg.qr) this.onResponse(dir, msg, wire, endSec, endNsec);
    else this.onQuery(dir, msg, wire, sec, nsec);
  }

  /** Zeek's "violation": these bytes are not DNS, and the flow stops being read as DNS. */
  private giveUp(detail: string): void {
    this.ctx.violation('dns.not_dns', detail);
    this.dead = true;
    this.pending.clear();
    drop(this.sides[0]);
    drop(this.sides[1]);
  }

  private onQuery(dir: Direction, msg: DnsMessage, wire: DnsWire | undefined, sec: number, nsec: number): void {
    const key = pairKey(msg);
    if (this.pending.has(key)) {
      // A retransmission (same ID and question, still unanswered): the first one stands,
      // so the entry's time runs from the first try.
      this.ctx.weird('dns.retransmission');
      return;
    }
    if (this.pending.size >= this.maxPending) {
      this.ctx.weird('dns.pending_limit');
      const [oldestKey, oldest] = this.pending.entries().next().value as [string, PendingQuery];
      this.pending.delete(oldestKey);
      this.emitUnanswered(oldest, 'given up: more than ' + this.maxPending + ' queries waiting on the flow');
    }
    this.pending.set(key, { msg, wire, dir, sec, nsec });
  }

  private onResponse(dir: Direction, msg: DnsMessage, wire: DnsWire | undefined, sec: number, nsec: number): void {
    let key = pairKey(msg);
    let q = this.pending.get(key);
    if (q === undefined && msg.questions.length === 0) {
      // RFC 1035 4.1.1 lets an error response (FORMERR, NOTIMP) omit the question: pair by ID alone.
      for (const [k, p] of this.pending) {
        if (p.msg.id === msg.id) {
          key = k;
          q = p;
          break;
        }
      }
    }
    if (q === undefined) {
      this.emitLoneResponse(dir, msg, wire, sec, nsec);
      return;
    }
    this.pending.delete(key);
    const item: ParsedItem = {
      protocol: this.tag,
      request: withWire(requestFields(q.msg), q.wire),
      response: withWire(responseFields(msg), wire),
      requestSize: q.msg.size,
      responseSize: msg.size,
      startSec: q.sec,
      startNsec: q.nsec,
      endSec: sec,
      endNsec: nsec,
    };
    if (q.dir === 1) item.reversed = true;
    const issues = issuesOf(q.msg, issuesOf(msg, undefined));
    if (issues !== undefined) item.issues = issues;
    this.ctx.emit(item);
  }

  /**
   * A response whose query was not seen (the capture began late, the query timed out,
   * or an mDNS announcement): an entry with the response and a request rebuilt from
   * its question section, marked `reconstructed`.
   */
  private emitLoneResponse(dir: Direction, msg: DnsMessage, wire: DnsWire | undefined, sec: number, nsec: number): void {
    const issues = issuesOf(msg, this.mdns ? undefined : ['dns.unmatched_response']);
    if (!this.mdns) this.ctx.weird('dns.unmatched_response');
    const item: ParsedItem = {
      protocol: this.tag,
      request: { id: msg.id, opCode: msg.opCode, questions: msg.questions, reconstructed: true },
      response: withWire(responseFields(msg), wire),
      requestSize: 0,
      responseSize: msg.size,
      startSec: sec,
      startNsec: nsec,
      endSec: sec,
      endNsec: nsec,
    };
    // The response travels server → client; arriving on direction 0 means the roles are swapped.
    if (dir === 0) item.reversed = true;
    if (issues !== undefined) item.issues = issues;
    this.ctx.emit(item);
  }

  private emitUnanswered(q: PendingQuery, why: string): void {
    const item: ParsedItem = {
      protocol: this.tag,
      request: withWire(requestFields(q.msg), q.wire),
      requestSize: q.msg.size,
      responseSize: 0,
      startSec: q.sec,
      startNsec: q.nsec,
      endSec: q.sec,
      endNsec: q.nsec,
      error: { type: 'pair-not-found', msg: why },
    };
    if (q.dir === 1) item.reversed = true;
    const issues = issuesOf(q.msg, undefined);
    if (issues !== undefined) item.issues = issues;
    this.ctx.emit(item);
  }

  /** Queries older than the pair timeout, in packet time, become `pair-not-found` entries. */
  private expire(sec: number, nsec: number): void {
    if (this.pending.size === 0) return;
    for (const [key, q] of this.pending) {
      const age = sec - q.sec + (nsec - q.nsec) / 1e9;
      // Arrival order is time order, so the first query still in time ends the sweep.
      if (age <= this.timeoutSec) break;
      this.pending.delete(key);
      this.emitUnanswered(q, 'no response within ' + this.timeoutSec + 's');
    }
  }
}

function drop(side: TcpSide): void {
  if (side.heldBytes > 0) side.held = [];
  side.heldBytes = 0;
}

function newSide(): TcpSide {
  return { held: [], heldBytes: 0, sec: 0, nsec: 0, skip: 0, lost: false };
}

function limit(ctx: ParserContext, name: keyof typeof dnsLimits): number {
  return ctx.limits[name] ?? dnsLimits[name];
}

/** ID and first question; names compare case-insensitively (RFC 4343). */
function pairKey(msg: DnsMessage): string {
  const q = msg.questions[0];
  if (q === undefined) return msg.id + '';
  return msg.id + ' ' + q.type + ' ' + q.class + ' ' + q.name.toLowerCase();
}

/** The record, with its message's bytes kept beside it when there are any. */
function withWire(record: Record<string, unknown>, wire: DnsWire | undefined): Record<string, unknown> {
  if (wire !== undefined) keepWire(record, wire);
  return record;
}

/** The message's issue codes appended to `into` (undefined while there are none). */
function issuesOf(msg: DnsMessage, into: string[] | undefined): string[] | undefined {
  if (msg.issue === '' && msg.weird.length === 0) return into;
  const out = into ?? [];
  if (msg.issue !== '') out.push('dns.malformed', msg.issue);
  for (const code of msg.weird) if (!out.includes(code)) out.push(code);
  return out;
}
