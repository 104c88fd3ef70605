/**
 * The HTTP/1.x parser of one connection: two incremental message parsers (one per
 * direction) and the FIFO matcher that pairs requests with responses (RFC 9112 9.3.2:
 * "A server MUST send its responses to those requests in the same order that the
 * requests were received").
 */
import type { Direction } from '../../reassembly/types.js';
import type { ParsedItem, ParserContext, ProtocolParser, ProtocolTag } from '../types.js';
import { BodyCollector, bodyContent, CODING_GZIP, codingOf, DeferredGzipBody, type BodyResult } from './body.js';
import { addIssue, parseHead, type MessageHead } from './head.js';
import { keepHead, requestHeadFields, responseHeadFields } from './kept-head.js';
import { classifyStartLine, LINE_MORE, LINE_NO, LINE_REQUEST, LINE_RESPONSE } from './start-line.js';

/** Named limits; each is counted (ctx.weird and the item's issues) when hit. */
export interface HttpLimits {
  /** Bytes of one head (start line + fields); the rest is skipped (`http.header_too_long`). */
  maxHeaderBytes: number;
  /** Fields kept per head; framing fields are still read past it (`http.too_many_headers`). */
  maxHeaders: number;
  /** Bytes before the LF ending a start line; the message is dropped (`http.start_line_too_long`). */
  maxStartLine: number;
  /** Bytes of a chunk-size line with its extensions (`http.chunk_line_too_long`). */
  maxChunkLine: number;
  /** Requests waiting for their responses; the oldest is given up (`http.too_many_pending`). */
  maxPendingRequests: number;
  /** Decoded bytes produced per body before decompression stops (`http.decode_limit`). */
  maxDecodedBytes: number;
  /** Bytes a client sends after an Upgrade/CONNECT request, held until the answer (`http.upgrade_hold_limit`). */
  maxUpgradeHoldBytes: number;
}

export const defaultHttpLimits: HttpLimits = {
  maxHeaderBytes: 64 * 1024,
  maxHeaders: 256,
  maxStartLine: 16 * 1024,
  maxChunkLine: 4096,
  maxPendingRequests: 64,
  maxDecodedBytes: 64 << 20,
  maxUpgradeHoldBytes: 64 * 1024,
};

const S_HEAD = 0;
const S_BODY_LENGTH = 1;
const S_CHUNK_SIZE = 2;
const S_CHUNK_DATA = 3;
const S_CHUNK_END = 4;
const S_TRAILERS = 5;
const S_BODY_CLOSE = 6;
/** The client asked for Upgrade/CONNECT: its next bytes wait for the server's answer. */
const S_HOLD = 7;
/** After 101 / CONNECT 2xx: bytes are counted, not parsed. */
const S_TUNNEL = 8;
/** Looking for the next start line (after a gap or bytes that were not a message). */
const S_RESYNC = 9;
/** A head over maxHeaderBytes: skipping to its end. */
const S_SKIP_HEAD = 10;

const ROLE_UNKNOWN = 0;
const ROLE_REQUESTS = 1;
const ROLE_RESPONSES = 2;

const CR = 0x0d;
const LF = 0x0a;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const HTTP_1 = Buffer.from('HTTP/1.', 'latin1');

const TAG_11: ProtocolTag = Object.freeze({ name: 'http', version: '1.1', abbr: 'HTTP', layer4: 'tcp' }) as ProtocolTag;
const TAG_10: ProtocolTag = Object.freeze({ name: 'http', version: '1.0', abbr: 'HTTP', layer4: 'tcp' }) as ProtocolTag;

interface Exchange {
  method: string;
  version: string;
  request: Record<string, unknown> | undefined;
  response: Record<string, unknown> | undefined;
  reqDone: boolean;
  respStarted: boolean;
  respDone: boolean;
  /** Given up waiting (timeout, too many pending): emitted without a response. */
  expired: string;
  upgradeAsked: boolean;
  requestSize: number;
  responseSize: number;
  startSec: number;
  startNsec: number;
  endSec: number;
  endNsec: number;
  issues: string[] | null;
  reversed: boolean;
}

interface Message {
  head: MessageHead;
  /** Bytes on the wire so far (head, body framing, trailers). */
  wire: number;
  body: BodyCollector | DeferredGzipBody | null;
  /** The framing announced a body (a request gets postData). */
  hasBody: boolean;
  /** The body ended short (gap or close). */
  incomplete: boolean;
  issues: string[] | null;
  exchange: Exchange | null;
  /** A response to a request that was given up: parsed for framing, not emitted. */
  skip: boolean;
  /** The request's method, for the response's framing (HEAD, CONNECT). */
  method: string;
  startSec: number;
  startNsec: number;
}

/** Up to `side.remaining` body bytes from `data[off, end)`: kept (decoded, capped) and counted. Returns the new offset. */
function bodyBytes(side: Side, data: Buffer, off: number, end: number): number {
  const n = Math.min(side.remaining, end - off);
  const msg = side.msg!;
  msg.body?.write(data, off, off + n);
  msg.wire += n;
  side.remaining -= n;
  return off + n;
}

class Side {
  state = S_HEAD;
  role = ROLE_UNKNOWN;
  headBuf: Buffer | null = null;
  headLen = 0;
  /** The start line in headBuf was checked and its length is within the limit. */
  startOk = false;
  /** The head being collected came from resynchronisation: failing it is silent. */
  tentative = false;
  headSec = 0;
  headNsec = 0;
  /** RESYNC: the next byte begins a line. */
  atLineStart = true;
  /** SKIP_HEAD: bytes of CRLFCRLF matched so far. */
  crlfMatch = 0;
  msg: Message | null = null;
  remaining = 0;
  chunkSize = 0;
  chunkLine = 0;
  chunkDigits = 0;
  chunkExt = false;
  /** 1xx interim responses before the final one, counted into its size. */
  interimBytes = 0;
  held: Buffer[] = [];
  heldLen = 0;
  heldSec = 0;
  heldNsec = 0;
  heldOverflow = false;
  tunnelBytes = 0;
}

export class HttpParser implements ProtocolParser {
  private readonly sides: [Side, Side] = [new Side(), new Side()];
  private readonly pending: Exchange[] = [];
  /** Methods of given-up requests whose responses are still to come (FIFO), to keep pairing aligned. */
  private readonly skipped: string[] = [];
  private confirmed = false;
  /** A 101 or a CONNECT 2xx was seen: the connection is no longer HTTP. */
  private tunnel = false;
  /** maxStartLine, kept below maxHeaderBytes so that a start line always fits the head buffer. */
  private readonly maxStartLine: number;
  private dead = false;
  private readonly limits: HttpLimits;
  private readonly cap: number;
  /** gzip bodies are recorded, not inflated (ParserSettings.deferGzipBodies). */
  private readonly deferGzip: boolean;
  /** Body text left as bytes until read (ParserSettings.lazyBodyText). */
  private readonly lazyText: boolean;
  /** Records keep their heads' text (ParserSettings.httpHeads, kept-head.ts). */
  private readonly keepHeads: boolean;
  private readonly timeoutSec: number;

  constructor(private readonly ctx: ParserContext) {
    this.limits = { ...defaultHttpLimits, ...(ctx.limits as Partial<HttpLimits>) };
    this.cap = ctx.settings.maxBodyText;
    this.deferGzip = ctx.settings.deferGzipBodies;
    this.lazyText = ctx.settings.lazyBodyText;
    this.keepHeads = ctx.settings.httpHeads;
    this.timeoutSec = ctx.settings.pairTimeoutSec;
    this.maxStartLine = Math.min(this.limits.maxStartLine, this.limits.maxHeaderBytes - 2);
  }

  /** Bytes of each direction counted but not parsed after an Upgrade / CONNECT. */
  get tunnelBytes(): [number, number] {
    return [this.sides[0].tunnelBytes, this.sides[1].tunnelBytes];
  }

  onData(dir: Direction, data: Buffer, sec: number, nsec: number): void {
    if (this.dead || data.length === 0) return;
    if (this.timeoutSec > 0 && this.pending.length > 0) this.expireOld(sec, nsec);
    this.consume(dir, data, 0, sec, nsec);
  }

  onIdle(sec: number, nsec: number): void {
    if (!this.dead && this.timeoutSec > 0 && this.pending.length > 0) this.expireOld(sec, nsec);
  }

  onGap(dir: Direction, length: number, sec: number, nsec: number): void {
    if (this.dead || length <= 0) return;
    const side = this.sides[dir];
    const msg = side.msg;
    switch (side.state) {
      case S_HEAD:
        if (side.headLen > 0 && !side.tentative) {
          // RFC 9112 has no way to find the end of a head whose bytes are missing: drop it.
          this.ctx.weird('http.gap_in_head');
          if (side.role === ROLE_RESPONSES) this.loseResponse();
        }
        this.toResync(side, true);
        return;
      case S_BODY_LENGTH:
      case S_CHUNK_DATA:
        if (msg !== null) {
          this.ctx.weird('http.gap_in_body');
          msg.body?.gap();
          msg.issues = addIssue(msg.issues, 'tcp.gap');
          if (length < side.remaining) {
            msg.wire += length;
            side.remaining -= length;
            return;
          }
          msg.wire += side.remaining;
          if (side.state === S_BODY_LENGTH && length === side.remaining) {
            // The gap ends exactly where the body does: the next message can still be read.
            this.finishMessage(dir, side, sec, nsec);
            return;
          }
          this.finishMessage(dir, side, sec, nsec);
        }
        this.toResync(side, true);
        return;
      case S_CHUNK_SIZE:
      case S_CHUNK_END:
      case S_TRAILERS:
      case S_SKIP_HEAD:
        if (msg !== null) {
          this.ctx.weird('http.gap_in_body');
          msg.body?.gap();
          msg.issues = addIssue(msg.issues, 'tcp.gap');
          msg.wire += length;
          this.finishMessage(dir, side, sec, nsec);
        }
        this.toResync(side, true);
        return;
      case S_BODY_CLOSE:
        if (msg !== null) {
          this.ctx.weird('http.gap_in_body');
          msg.body?.gap();
          msg.issues = addIssue(msg.issues, 'tcp.gap');
          msg.wire += length;
        }
        return;
      case S_HOLD:
        side.heldOverflow = true;
        side.held.length = 0;
        side.heldLen = 0;
        return;
      case S_TUNNEL:
        side.tunnelBytes += length;
        return;
      case S_RESYNC:
        side.atLineStart = true;
        return;
    }
  }

  onClose(sec: number, nsec: number): void {
    if (this.dead) return;
    for (const dir of [0, 1] as const) {
      const side = this.sides[dir];
      if (side.state === S_HEAD && side.headLen > 0 && !side.tentative) this.ctx.weird('http.truncated_head');
      const msg = side.msg;
      if (msg === null) continue;
      if (side.state !== S_BODY_CLOSE) {
        // The connection ended inside a message whose length was known.
        msg.incomplete = true;
        this.messageIssue(msg, 'http.truncated_body');
      }
      this.finishMessage(dir, side, sec, nsec);
    }
    this.tryEmit();
    while (this.pending.length > 0) {
      const ex = this.pending.shift()!;
      if (ex.request === undefined && ex.response === undefined) continue;
      this.emit(ex, ex.respDone ? '' : ex.expired || 'no response before the connection closed');
    }
    this.dead = true;
  }

  // ---- bytes of one direction ------------------------------------------------------------

  private consume(dir: Direction, data: Buffer, off: number, sec: number, nsec: number): void {
    const side = this.sides[dir];
    const end = data.length;
    while (off < end && !this.dead) {
      switch (side.state) {
        case S_HEAD:
          off = this.headBytes(dir, side, data, off, sec, nsec);
          break;
        case S_BODY_LENGTH:
          off = bodyBytes(side, data, off, end);
          if (side.remaining === 0) this.finishMessage(dir, side, sec, nsec);
          break;
        case S_CHUNK_SIZE:
          off = this.chunkSizeBytes(dir, side, data, off, sec, nsec);
          break;
        case S_CHUNK_DATA:
          off = bodyBytes(side, data, off, end);
          if (side.remaining === 0) {
            side.state = S_CHUNK_END;
            side.remaining = 2;
          }
          break;
        case S_CHUNK_END:
          off = this.chunkEndBytes(dir, side, data, off, sec, nsec);
          break;
        case S_TRAILERS:
          off = this.trailerBytes(dir, side, data, off, sec, nsec);
          break;
        case S_BODY_CLOSE: {
          const msg = side.msg!;
          msg.body?.write(data, off, end);
          msg.wire += end - off;
          off = end;
          break;
        }
        case S_HOLD:
          this.hold(side, data, off, sec, nsec);
          off = end;
          break;
        case S_TUNNEL:
          side.tunnelBytes += end - off;
          off = end;
          break;
        case S_RESYNC:
          off = this.resync(side, data, off);
          break;
        case S_SKIP_HEAD:
          off = this.skipHeadBytes(dir, side, data, off, sec, nsec);
          break;
      }
    }
  }

  /** HEAD: collects a head; returns the offset after what it used. */
  private headBytes(dir: Direction, side: Side, data: Buffer, off: number, sec: number, nsec: number): number {
    const end = data.length;
    const lim = this.limits;
    if (side.headLen === 0) {
      // RFC 9112 2.2: "a server that is expecting to receive and parse a request-line
      // SHOULD ignore at least one empty line (CRLF) received prior to the request-line."
      while (off < end && (data[off] === CR || data[off] === LF)) off++;
      if (off >= end) return end;
      side.headSec = sec;
      side.headNsec = nsec;
      const kind = classifyStartLine(data, off, end, false);
      if (kind === LINE_NO || !this.roleFits(side, kind)) return this.badStart(dir, side, data, off);
      const lf = data.indexOf(LF, off);
      if ((lf === -1 ? end : lf) - off > this.maxStartLine) return this.startLineTooLong(side, off);
      const idx = data.indexOf(CRLFCRLF, off);
      if (idx !== -1 && idx + 4 - off <= lim.maxHeaderBytes) {
        if (kind === LINE_MORE) return this.badStart(dir, side, data, off);
        this.onHead(dir, side, data, off, idx + 4, idx + 4 - off, false, true, sec, nsec, sec, nsec);
        return idx + 4;
      }
      if (end - off >= lim.maxHeaderBytes) {
        // RFC 9112 2.3 leaves the size of a head to the recipient; past the limit only
        // the first maxHeaderBytes are read and the rest is skipped to the head's end.
        const cut = off + lim.maxHeaderBytes;
        if (kind === LINE_MORE) return this.badStart(dir, side, data, off);
        if (idx !== -1) {
          this.onHead(dir, side, data, off, cut, idx + 4 - off, true, true, sec, nsec, sec, nsec);
          return idx + 4;
        }
        side.crlfMatch = crlfState(data, Math.max(off, cut - 3), cut);
        this.onHead(dir, side, data, off, cut, cut - off, true, false, sec, nsec, sec, nsec);
        return cut;
      }
      side.startOk = kind !== LINE_MORE && lf !== -1;
      this.appendHead(side, data, off, end);
      return end;
    }

    // Slow path: the head spans chunks. Only what the limit allows is copied.
    const oldLen = side.headLen;
    const n = Math.min(end - off, lim.maxHeaderBytes - oldLen);
    this.appendHead(side, data, off, off + n);
    const buf = side.headBuf!;
    if (!side.startOk) {
      const kind = classifyStartLine(buf, 0, side.headLen, false);
      if (kind === LINE_NO || !this.roleFits(side, kind)) {
        // Rescan what was buffered (minus its first byte) as if it had just arrived.
        const again = Buffer.from(buf.subarray(1, oldLen));
        side.headLen = 0;
        this.badStart(dir, side, again, 0);
        if (side.state === S_RESYNC || side.state === S_HEAD) this.consume(dir, again, 0, sec, nsec);
        return off;
      }
      const lf = buf.subarray(0, side.headLen).indexOf(LF);
      if ((lf === -1 ? side.headLen : lf) > this.maxStartLine) {
        side.headLen = 0;
        return this.startLineTooLong(side, off + n);
      }
      side.startOk = kind !== LINE_MORE && lf !== -1;
    }
    const idx = buf.subarray(0, side.headLen).indexOf(CRLFCRLF, oldLen > 3 ? oldLen - 3 : 0);
    if (idx !== -1) {
      const used = idx + 4 - oldLen;
      side.headLen = 0;
      this.onHead(dir, side, buf, 0, idx + 4, idx + 4, false, true, side.headSec, side.headNsec, sec, nsec);
      return off + used;
    }
    if (side.headLen >= lim.maxHeaderBytes) {
      side.headLen = 0;
      if (!side.startOk) return this.badStart(dir, side, data, off + n);
      side.crlfMatch = crlfState(buf, lim.maxHeaderBytes - 3, lim.maxHeaderBytes);
      this.onHead(dir, side, buf, 0, lim.maxHeaderBytes, lim.maxHeaderBytes, true, false, side.headSec, side.headNsec, sec, nsec);
      return off + n;
    }
    return off + n;
  }

  private appendHead(side: Side, data: Buffer, start: number, end: number): void {
    const need = side.headLen + (end - start);
    let buf = side.headBuf;
    if (buf === null || buf.length < need) {
      const grow = Math.min(this.limits.maxHeaderBytes + 2, buf === null ? 1024 : buf.length * 2);
      const grown = Buffer.allocUnsafe(Math.max(need, grow));
      if (buf !== null) buf.copy(grown, 0, 0, side.headLen);
      side.headBuf = buf = grown;
    }
    data.copy(buf, side.headLen, start, end);
    side.headLen = need;
  }

  /** The request side carries requests and the response side responses, once known. */
  private roleFits(side: Side, kind: number): boolean {
    if (kind === LINE_REQUEST) return side.role !== ROLE_RESPONSES;
    if (kind === LINE_RESPONSE) return side.role !== ROLE_REQUESTS;
    return true;
  }

  /**
   * Bytes where a message should start are not one. On a flow not yet known to be HTTP
   * this is a violation (stop); on a confirmed flow, or after a gap, it is odd traffic:
   * look for the next start line.
   */
  private badStart(dir: Direction, side: Side, data: Buffer, off: number): number {
    if (side.tentative) {
      this.toResync(side, false);
      return off + 1;
    }
    if (!this.confirmed) {
      this.ctx.violation('http.bad_start_line', `direction ${dir}: not an HTTP/1.x start line`);
      this.shutdown();
      return data.length;
    }
    this.ctx.weird('http.bad_start_line');
    this.toResync(side, false);
    return off + 1;
  }

  private startLineTooLong(side: Side, resumeAt: number): number {
    this.ctx.weird('http.start_line_too_long');
    this.toResync(side, false);
    return resumeAt;
  }

  private toResync(side: Side, atLineStart: boolean): void {
    side.state = S_RESYNC;
    side.atLineStart = atLineStart;
    side.headLen = 0;
    side.startOk = false;
    side.tentative = false;
    side.msg = null;
  }

  /** RESYNC: find a line that starts a message of this side's kind. */
  private resync(side: Side, data: Buffer, off: number): number {
    const end = data.length;
    for (;;) {
      if (side.atLineStart) {
        while (off < end && (data[off] === CR || data[off] === LF)) off++;
        if (off >= end) return end;
        const kind = classifyStartLine(data, off, end, true);
        if (kind !== LINE_NO && this.roleFits(side, kind)) {
          side.state = S_HEAD;
          side.tentative = true;
          side.headLen = 0;
          return off;
        }
        side.atLineStart = false;
        off++; // data[off] is not LF (skipped above), so no line start is passed over
      }
      if (side.role === ROLE_RESPONSES) {
        // A status line may follow the end of a body with no line break in between.
        const at = data.indexOf(HTTP_1, off);
        if (at === -1) {
          // Keep the last bytes that could begin "HTTP/1." for the next chunk.
          for (let h = Math.max(off, end - (HTTP_1.length - 1)); h < end; h++) {
            if (HTTP_1.subarray(0, end - h).equals(data.subarray(h, end))) {
              side.state = S_HEAD;
              side.tentative = true;
              side.headLen = 0;
              return h;
            }
          }
          return end;
        }
        off = at;
        side.atLineStart = true;
        continue;
      }
      const lf = data.indexOf(LF, off);
      if (lf === -1) return end;
      off = lf + 1;
      side.atLineStart = true;
    }
  }

  private skipHeadBytes(dir: Direction, side: Side, data: Buffer, off: number, sec: number, nsec: number): number {
    const end = data.length;
    const from = off;
    let m = side.crlfMatch;
    while (off < end && m !== 4) {
      if (m === 0) {
        const idx = data.indexOf(CRLFCRLF, off);
        if (idx !== -1) {
          off = idx + 4;
          m = 4;
          break;
        }
        // No whole terminator: only the last three bytes can begin one.
        off = Math.max(off, end - 3);
      }
      m = crlfStep(m, data[off++]);
    }
    if (m !== 4) {
      side.crlfMatch = m;
      this.countSkipped(side, end - from);
      return end;
    }
    side.crlfMatch = 0;
    this.countSkipped(side, off - from);
    this.afterHead(dir, side, sec, nsec);
    return off;
  }

  private countSkipped(side: Side, n: number): void {
    if (side.msg !== null) side.msg.wire += n;
    else side.interimBytes += n;
  }

  // ---- heads and framing ----------------------------------------------------------------

  /**
   * A head was found: data[start, parseEnd) holds whole lines to read, `wireLen` is the
   * head's size on the wire, `cut` when it went over maxHeaderBytes.
   */
  private onHead(
    dir: Direction,
    side: Side,
    data: Buffer,
    start: number,
    parseEnd: number,
    wireLen: number,
    cut: boolean,
    ended: boolean,
    firstSec: number,
    firstNsec: number,
    sec: number,
    nsec: number,
  ): void {
    let textEnd = parseEnd;
    if (cut) {
      // Only whole lines of a cut head are read.
      const lastLf = data.subarray(start, parseEnd).lastIndexOf(LF);
      textEnd = lastLf === -1 ? parseEnd : start + lastLf + 1;
    }
    const head = parseHead(data.toString('latin1', start, textEnd), this.limits);
    if (head === null) {
      side.headLen = 0;
      this.badStart(dir, side, data, start);
      return;
    }
    side.tentative = false;
    side.startOk = false;
    if (side.role === ROLE_UNKNOWN) {
      const other = this.sides[dir === 0 ? 1 : 0];
      side.role = head.isRequest ? ROLE_REQUESTS : ROLE_RESPONSES;
      if (other.role === ROLE_UNKNOWN) other.role = head.isRequest ? ROLE_RESPONSES : ROLE_REQUESTS;
    }
    if (!this.confirmed) {
      this.confirmed = true;
      this.ctx.confirm();
    }
    if (head.issues !== null) for (const code of head.issues) this.ctx.weird(code);

    const msg: Message = {
      head,
      wire: wireLen,
      body: null,
      hasBody: false,
      incomplete: false,
      issues: head.issues,
      exchange: null,
      skip: false,
      method: head.method,
      startSec: firstSec,
      startNsec: firstNsec,
    };
    if (cut) this.messageIssue(msg, 'http.header_too_long');
    side.msg = msg;

    if (head.isRequest) {
      this.addExchange(dir, msg);
    } else {
      // RFC 9110 15.2: "A client MUST be able to parse one or more 1xx responses received
      // prior to a final response, even if the client does not expect one." They are not
      // the answer: counted into the final response's size, never paired.
      if (head.status >= 100 && head.status < 200 && head.status !== 101) {
        side.interimBytes += wireLen;
        side.msg = null;
        side.state = ended ? S_HEAD : S_SKIP_HEAD;
        return;
      }
      msg.wire += side.interimBytes;
      side.interimBytes = 0;
      this.attachResponse(msg);
    }
    if (ended) this.afterHead(dir, side, sec, nsec);
    else side.state = S_SKIP_HEAD;
  }

  /** The head is over (skipped to its end when cut): pick the body framing. */
  private afterHead(dir: Direction, side: Side, sec: number, nsec: number): void {
    const msg = side.msg;
    if (msg === null) {
      side.state = S_HEAD; // an interim response whose head was cut
      return;
    }
    const head = msg.head;
    side.state = S_HEAD;
    if (head.isRequest) {
      if (head.transferEncoding) {
        // RFC 9112 6.3: "If a Transfer-Encoding header field is present and the chunked
        // transfer coding (Section 7.1) is the final encoding, the message body length is
        // determined by reading and decoding the chunked data until the transfer coding
        // indicates the data is complete."
        if (head.contentLength !== -1) this.messageIssue(msg, 'http.te_and_cl');
        if (head.chunked) return this.startChunked(side, msg);
        // RFC 9112 6.3: "If a Transfer-Encoding header field is present in a request and
        // the chunked transfer coding is not the final encoding, the message body length
        // cannot be determined reliably; the server MUST respond with the 400 (Bad Request)
        // status code and then close the connection."
        this.messageIssue(msg, 'http.bad_transfer_encoding');
        return this.startUntilClose(side, msg);
      }
      if (head.contentLength === -2) {
        // RFC 9112 6.3: "If a message is received without Transfer-Encoding and with an
        // invalid Content-Length header field, then the message framing is invalid and the
        // recipient MUST treat it as an unrecoverable error".
        this.messageIssue(msg, 'http.bad_content_length');
        return this.startUntilClose(side, msg);
      }
      if (head.contentLength > 0) return this.startLength(side, msg, head.contentLength);
      // RFC 9112 6.3: "If this is a request message and none of the above are true, then
      // the message body length is zero (no message body is present)."
      this.finishMessage(dir, side, sec, nsec);
      return;
    }
    const status = head.status;
    // RFC 9112 6.3: "Any response to a HEAD request and any response with a 1xx
    // (Informational), 204 (No Content), or 304 (Not Modified) status code is always
    // terminated by the first empty line after the header fields, regardless of the header
    // fields present in the message, and thus cannot contain a message body or trailer section."
    if (msg.method === 'HEAD' || status < 200 || status === 204 || status === 304) {
      this.finishMessage(dir, side, sec, nsec);
      return;
    }
    // RFC 9112 6.3: "Any 2xx (Successful) response to a CONNECT request implies that the
    // connection will become a tunnel immediately after the empty line that concludes the
    // header fields."
    if (msg.method === 'CONNECT' && status < 300) {
      this.finishMessage(dir, side, sec, nsec);
      return;
    }
    if (head.transferEncoding) {
      // RFC 9112 6.1: "A server MUST NOT send a response containing Transfer-Encoding
      // unless the corresponding request indicates HTTP/1.1 (or later minor revisions)."
      // RFC 9112 6.3: "If a message is received with both a Transfer-Encoding and a
      // Content-Length header field, the Transfer-Encoding overrides the Content-Length."
      if (head.contentLength !== -1) this.messageIssue(msg, 'http.te_and_cl');
      if (head.chunked) return this.startChunked(side, msg);
      // RFC 9112 6.3: "If a Transfer-Encoding header field is present in a response and
      // the chunked transfer coding is not the final encoding, the message body length is
      // determined by reading the connection until it is closed by the server."
      return this.startUntilClose(side, msg);
    }
    if (head.contentLength === -2) {
      this.messageIssue(msg, 'http.bad_content_length');
      return this.startUntilClose(side, msg);
    }
    if (head.contentLength >= 0) {
      if (head.contentLength === 0) {
        msg.hasBody = true;
        this.finishMessage(dir, side, sec, nsec);
        return;
      }
      return this.startLength(side, msg, head.contentLength);
    }
    // RFC 9112 6.3: "Otherwise, this is a response message without a declared message body
    // length, so the message body length is determined by the number of octets received
    // prior to the server closing the connection."
    this.startUntilClose(side, msg);
  }

  private newBody(msg: Message, sizeHint: number): void {
    msg.hasBody = true;
    const coding = codingOf(msg.head.contentEncoding);
    msg.body = coding === CODING_GZIP && this.deferGzip ? new DeferredGzipBody(this.cap, this.limits) : new BodyCollector(this.cap, coding, sizeHint, this.limits);
  }

  private startLength(side: Side, msg: Message, length: number): void {
    this.newBody(msg, length);
    side.state = S_BODY_LENGTH;
    side.remaining = length;
  }

  private startChunked(side: Side, msg: Message): void {
    this.newBody(msg, 0);
    this.chunkLineStart(side);
  }

  private startUntilClose(side: Side, msg: Message): void {
    this.newBody(msg, 0);
    side.state = S_BODY_CLOSE;
  }

  private chunkLineStart(side: Side): void {
    side.state = S_CHUNK_SIZE;
    side.chunkSize = 0;
    side.chunkLine = 0;
    side.chunkDigits = 0;
    side.chunkExt = false;
  }

  /**
   * RFC 9112 7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF;
   * chunk-size = 1*HEXDIG; chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
   */
  private chunkSizeBytes(dir: Direction, side: Side, data: Buffer, off: number, sec: number, nsec: number): number {
    const end = data.length;
    const msg = side.msg!;
    while (off < end) {
      const c = data[off++];
      msg.wire++;
      if (++side.chunkLine > this.limits.maxChunkLine) {
        this.messageIssue(msg, 'http.chunk_line_too_long');
        return this.chunkFramingLost(dir, side, off, sec, nsec);
      }
      if (c === LF) {
        if (side.chunkDigits === 0) {
          this.messageIssue(msg, 'http.bad_chunk');
          return this.chunkFramingLost(dir, side, off, sec, nsec);
        }
        if (side.chunkSize === 0) {
          // RFC 9112 7.1.2: "trailer-section = *( field-line CRLF )" ends with an empty line.
          // The CRLF that ended the last-chunk line is put in front so that one CRLFCRLF
          // search finds the end of an empty and of a non-empty trailer section alike.
          side.state = S_TRAILERS;
          side.headLen = 0;
          this.appendHead(side, CRLFCRLF, 0, 2);
          return off;
        }
        side.state = S_CHUNK_DATA;
        side.remaining = side.chunkSize;
        return off;
      }
      if (side.chunkExt || c === CR) continue;
      const h = hexValue(c);
      if (h >= 0) {
        // 13 hex digits are 2^52: beyond that a chunk size is not a number of bytes.
        if (++side.chunkDigits > 13) {
          this.messageIssue(msg, 'http.bad_chunk');
          return this.chunkFramingLost(dir, side, off, sec, nsec);
        }
        side.chunkSize = side.chunkSize * 16 + h;
      } else if ((c === 0x3b || c === 0x20 || c === 0x09) && side.chunkDigits > 0) {
        side.chunkExt = true; // extensions are read past, as RFC 9112 7.1.1 lets recipients ignore them
      } else {
        this.messageIssue(msg, 'http.bad_chunk');
        return this.chunkFramingLost(dir, side, off, sec, nsec);
      }
    }
    return off;
  }

  private chunkEndBytes(dir: Direction, side: Side, data: Buffer, off: number, sec: number, nsec: number): number {
    const msg = side.msg!;
    // The CRLF after chunk-data (a bare LF is taken, as RFC 9112 2.2 allows for lines).
    const c = data[off];
    if (side.remaining === 2 && c === CR) {
      msg.wire++;
      side.remaining = 1;
      return off + 1;
    }
    if (c === LF) {
      msg.wire++;
      this.chunkLineStart(side);
      return off + 1;
    }
    this.messageIssue(msg, 'http.bad_chunk');
    return this.chunkFramingLost(dir, side, off, sec, nsec);
  }

  /** Broken chunked framing: the message ends here and the side looks for the next one. */
  private chunkFramingLost(dir: Direction, side: Side, off: number, sec: number, nsec: number): number {
    const msg = side.msg!;
    msg.incomplete = true;
    this.finishMessage(dir, side, sec, nsec);
    this.toResync(side, false);
    return off;
  }

  private trailerBytes(dir: Direction, side: Side, data: Buffer, off: number, sec: number, nsec: number): number {
    const end = data.length;
    const msg = side.msg!;
    const oldLen = side.headLen;
    const n = Math.min(end - off, this.limits.maxHeaderBytes + 2 - oldLen);
    this.appendHead(side, data, off, off + n);
    const buf = side.headBuf!;
    const idx = buf.subarray(0, side.headLen).indexOf(CRLFCRLF, oldLen > 3 ? oldLen - 3 : 0);
    if (idx !== -1) {
      const used = idx + 4 - oldLen;
      msg.wire += used;
      if (idx > 0) this.mergeTrailers(msg, buf.toString('latin1', 2, idx + 2));
      side.headLen = 0;
      this.finishMessage(dir, side, sec, nsec);
      return off + used;
    }
    msg.wire += n;
    if (side.headLen >= this.limits.maxHeaderBytes + 2) {
      this.messageIssue(msg, 'http.header_too_long');
      side.headLen = 0;
      return this.chunkFramingLost(dir, side, off + n, sec, nsec);
    }
    return off + n;
  }

  /** Trailer fields join the header fields (the entry has one field map per message). */
  private mergeTrailers(msg: Message, text: string): void {
    const parsed = parseHead('HTTP/1.1 200 \r\n' + text, this.limits);
    if (parsed === null) return;
    const headers = msg.head.headers;
    // The fields are no longer what the head's text reads to.
    msg.head.text = '';
    for (const [name, value] of Object.entries(parsed.headers)) {
      const same = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
      if (same === undefined) headers[name] = value;
      else headers[same] = headers[same] + ', ' + value;
    }
  }

  // ---- messages and exchanges --------------------------------------------------------------

  private messageIssue(msg: Message, code: string): void {
    msg.issues = addIssue(msg.issues, code);
    this.ctx.weird(code);
  }

  private addExchange(dir: Direction, msg: Message): void {
    const head = msg.head;
    let waiting = 0;
    for (const ex of this.pending) if (!ex.respStarted && ex.expired === '') waiting++;
    if (waiting >= this.limits.maxPendingRequests) {
      // The oldest unanswered request is given up; its response, if it comes, is skipped.
      const oldest = this.pending.find((ex) => !ex.respStarted && ex.expired === '');
      if (oldest !== undefined) {
        oldest.expired = 'too many requests waiting for responses';
        oldest.issues = addIssue(oldest.issues, 'http.too_many_pending');
        this.ctx.weird('http.too_many_pending');
      }
    }
    const ex: Exchange = {
      method: head.method,
      version: head.version,
      request: undefined,
      response: undefined,
      reqDone: false,
      respStarted: false,
      respDone: false,
      expired: '',
      upgradeAsked: head.method === 'CONNECT' || head.upgrade,
      requestSize: 0,
      responseSize: 0,
      startSec: msg.startSec,
      startNsec: msg.startNsec,
      endSec: msg.startSec,
      endNsec: msg.startNsec,
      issues: null,
      reversed: dir === 1,
    };
    msg.exchange = ex;
    this.pending.push(ex);
    this.tryEmit();
  }

  private attachResponse(msg: Message): void {
    if (this.skipped.length > 0) {
      msg.skip = true;
      msg.method = this.skipped.shift()!;
      return;
    }
    for (const ex of this.pending) {
      if (ex.respStarted) continue;
      ex.respStarted = true;
      msg.method = ex.method;
      if (ex.expired !== '') msg.skip = true;
      else msg.exchange = ex;
      return;
    }
    msg.method = '';
  }

  /** The response head of the oldest unanswered request fell into a gap. */
  private loseResponse(): void {
    if (this.skipped.length > 0) {
      this.skipped.shift();
      return;
    }
    const ex = this.pending.find((e) => !e.respStarted);
    if (ex === undefined) return;
    ex.respStarted = true;
    if (ex.expired === '') ex.expired = 'the response was lost in a capture gap';
    ex.issues = addIssue(ex.issues, 'tcp.gap');
    this.tryEmit();
  }

  private finishMessage(dir: Direction, side: Side, sec: number, nsec: number): void {
    const msg = side.msg;
    side.msg = null;
    side.state = S_HEAD;
    if (msg === null) return;
    const head = msg.head;
    let body: BodyResult | null = null;
    if (msg.body !== null) {
      body = msg.body.finish(!msg.incomplete);
      // tcp.gap is counted by reassembly; the body's own findings are counted here.
      if (body.issues !== null) {
        for (const code of body.issues) {
          if (code === 'tcp.gap') msg.issues = addIssue(msg.issues, code);
          else this.messageIssue(msg, code);
        }
      }
    }
    if (head.isRequest) {
      const ex = msg.exchange!;
      ex.request = this.requestRecord(head, msg, body);
      ex.reqDone = true;
      ex.requestSize = msg.wire;
      if (ex.respDone === false) {
        ex.endSec = sec;
        ex.endNsec = nsec;
      }
      ex.issues = mergeIssues(ex.issues, msg.issues);
      if (this.tunnel) side.state = S_TUNNEL;
      else if (ex.upgradeAsked) {
        side.state = S_HOLD;
        side.heldLen = 0;
        side.heldOverflow = false;
      }
      this.tryEmit();
      return;
    }
    const response = this.responseRecord(head, msg, body);
    const tunnel = head.status === 101 || (msg.method === 'CONNECT' && head.status >= 200 && head.status < 300);
    if (msg.skip) {
      // The answer of a request that was given up: already emitted without it.
    } else if (msg.exchange === null) {
      // A response with no request: the capture began after the request was sent.
      // It becomes an entry of its own, so that what was seen is not lost.
      this.ctx.weird('http.response_without_request');
      const item: ParsedItem = {
        protocol: head.version === '1.0' ? TAG_10 : TAG_11,
        response,
        requestSize: 0,
        responseSize: msg.wire,
        startSec: msg.startSec,
        startNsec: msg.startNsec,
        endSec: sec,
        endNsec: nsec,
        error: { type: 'pair-not-found', msg: 'response without a request' },
      };
      if (dir === 0) item.reversed = true;
      if (msg.issues !== null) item.issues = msg.issues.slice();
      this.ctx.emit(item);
    } else {
      const ex = msg.exchange;
      ex.response = response;
      ex.respDone = true;
      ex.responseSize = msg.wire;
      ex.endSec = sec;
      ex.endNsec = nsec;
      ex.issues = mergeIssues(ex.issues, msg.issues);
    }
    const other = this.sides[dir === 0 ? 1 : 0];
    if (tunnel) {
      this.tunnel = true;
      // RFC 9110 15.2.2 (101): "the server will switch to the protocols defined by the
      // response's Upgrade header field immediately after the empty line"; the rest of
      // the connection is counted, not parsed.
      side.state = S_TUNNEL;
      if (other.state === S_HOLD) other.tunnelBytes += other.heldLen;
      other.held.length = 0;
      other.heldLen = 0;
      if (other.msg === null) other.state = S_TUNNEL;
      this.tryEmit();
      return;
    }
    this.tryEmit();
    if (other.state === S_HOLD) this.release(dir === 0 ? 1 : 0, other);
  }

  /** The server refused the upgrade: what the client sent meanwhile is HTTP again. */
  private release(dir: Direction, side: Side): void {
    const held = side.held;
    const overflow = side.heldOverflow;
    side.held = [];
    side.heldLen = 0;
    side.heldOverflow = false;
    side.state = S_HEAD;
    if (overflow) {
      this.toResync(side, false);
      return;
    }
    for (const chunk of held) if (!this.dead) this.consume(dir, chunk, 0, side.heldSec, side.heldNsec);
  }

  private hold(side: Side, data: Buffer, off: number, sec: number, nsec: number): void {
    const n = data.length - off;
    if (side.heldOverflow) {
      side.tunnelBytes += n;
      return;
    }
    if (side.heldLen + n > this.limits.maxUpgradeHoldBytes) {
      this.ctx.weird('http.upgrade_hold_limit');
      side.heldOverflow = true;
      side.tunnelBytes += side.heldLen + n;
      side.held.length = 0;
      side.heldLen = 0;
      return;
    }
    if (side.heldLen === 0) {
      side.heldSec = sec;
      side.heldNsec = nsec;
    }
    side.held.push(Buffer.from(data.subarray(off)));
    side.heldLen += n;
  }

  /** Requests that waited longer than pairTimeoutSec for their response are given up. */
  private expireOld(sec: number, nsec: number): void {
    const t = sec + nsec / 1e9;
    for (const ex of this.pending) {
      if (ex.respStarted || ex.expired !== '' || !ex.reqDone) continue;
      // Requests end in order: the first one still in time ends the sweep.
      if (t - (ex.endSec + ex.endNsec / 1e9) <= this.timeoutSec) break;
      ex.expired = `no response within ${this.timeoutSec}s`;
    }
    this.tryEmit();
  }

  /** Emits finished exchanges from the front, in request order. */
  private tryEmit(): void {
    const pending = this.pending;
    while (pending.length > 0) {
      const ex = pending[0];
      if (!ex.reqDone) return;
      if (ex.respDone) {
        pending.shift();
        this.emit(ex, '');
      } else if (ex.expired !== '') {
        pending.shift();
        if (!ex.respStarted) this.skipped.push(ex.method);
        this.emit(ex, ex.expired);
      } else return;
    }
  }

  private emit(ex: Exchange, unpaired: string): void {
    const item: ParsedItem = {
      protocol: ex.version === '1.0' ? TAG_10 : TAG_11,
      requestSize: ex.requestSize,
      responseSize: ex.responseSize,
      startSec: ex.startSec,
      startNsec: ex.startNsec,
      endSec: ex.endSec,
      endNsec: ex.endNsec,
    };
    if (ex.request !== undefined) item.request = ex.request;
    if (unpaired === '' && ex.response !== undefined) item.response = ex.response;
    else {
      item.responseSize = 0;
      item.error = { type: 'pair-not-found', msg: unpaired };
    }
    if (ex.reversed) item.reversed = true;
    if (ex.issues !== null) item.issues = ex.issues;
    this.ctx.emit(item);
  }

  private requestRecord(head: MessageHead, msg: Message, body: BodyResult | null): Record<string, unknown> {
    const rec = requestHeadFields(head);
    rec.bodySize = body === null ? 0 : body.size;
    if (msg.hasBody && body !== null) rec.postData = this.bodyRecord(head.contentType, body, false);
    this.keepHead(rec, head);
    return rec;
  }

  private responseRecord(head: MessageHead, msg: Message, body: BodyResult | null): Record<string, unknown> {
    const rec = responseHeadFields(head);
    rec.bodySize = body === null ? 0 : body.size;
    rec.content = body === null ? { mimeType: head.contentType, size: 0, text: '' } : this.bodyRecord(head.contentType, body, true);
    this.keepHead(rec, head);
    return rec;
  }

  private keepHead(rec: Record<string, unknown>, head: MessageHead): void {
    if (this.keepHeads && head.text !== '') keepHead(rec, { text: head.text, maxHeaders: this.limits.maxHeaders, joined: head.joined });
  }

  /** HAR's postData / content (bodyContent); a deferred body's only says what resolveDeferred needs. */
  private bodyRecord(mimeType: string, body: BodyResult, withSize: boolean): Record<string, unknown> {
    if (body.deferred !== undefined) return { mimeType, deferred: body.deferred };
    return bodyContent(mimeType, body, withSize, this.lazyText);
  }

  private shutdown(): void {
    this.dead = true;
    for (const side of this.sides) {
      side.msg?.body?.dispose();
      side.msg = null;
      side.held.length = 0;
    }
  }
}

function mergeIssues(into: string[] | null, from: string[] | null): string[] | null {
  if (from === null) return into;
  for (const code of from) into = addIssue(into, code);
  return into;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** KMP step for CRLFCRLF: `m` bytes matched, next byte `c`. */
function crlfStep(m: number, c: number): number {
  if (c === (m === 0 || m === 2 ? CR : LF)) return m + 1;
  return c === CR ? 1 : 0;
}

/** CRLFCRLF bytes matched at the end of buf[start, end). */
function crlfState(buf: Buffer, start: number, end: number): number {
  let m = 0;
  for (let i = start < 0 ? 0 : start; i < end; i++) {
    m = crlfStep(m, buf[i]);
    if (m === 4) m = 0;
  }
  return m;
}
