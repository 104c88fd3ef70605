import { TcpFlag } from '../decode/types.js';
import type { ReassemblyContext } from './stats.js';
import type { Direction, FlowHandler } from './types.js';

/** What `TcpConnection.packet` asks of the flow table. */
export const TCP_OPEN = 0;
/** Both FINs seen: close with `fin`. */
export const TCP_CLOSE_FIN = 1;
/** RST seen: close with `rst`. */
export const TCP_CLOSE_RST = 2;
/** A SYN for a new connection on this 4-tuple: close this one and start another. */
export const TCP_REUSE = 3;

/** Out-of-order bytes held (copied) until the hole before them is filled. */
interface HeldSegment {
  off: number;
  end: number;
  data: Buffer;
}

/**
 * One direction of a connection. Positions are stream offsets (plain numbers that never
 * wrap): offset 0 is the first byte after the SYN, or the first byte seen when the
 * capture began mid-stream. A 32-bit sequence number becomes an offset through its
 * signed distance to the next expected one, which is how the 2^32 wrap is absorbed.
 */
export class TcpHalf {
  started = false;
  /** Sequence number of offset 0. */
  base = 0;
  /** Offset of the next byte to deliver: everything before it was delivered or declared a gap. */
  next = 0;
  /** Offset the FIN occupies; -1 until a FIN is seen. */
  fin = -1;
  /** Sequence number of the SYN; -1 when none was seen. */
  isn = -1;
  /** Held segments: sorted by offset, never overlapping each other, all beyond `next`. */
  held: HeldSegment[] = [];
  heldBytes = 0;
  /** The last in-order segment was cut by the snaplen, so the bytes after it will never show up. */
  truncPending = false;

  start(seq: number): void {
    this.started = true;
    this.base = seq >>> 0;
    this.next = 0;
  }

  offsetOf(seq: number): number {
    const nextSeq = (this.base + this.next) >>> 0;
    return this.next + ((seq - nextSeq) | 0);
  }
}

/** TCP reassembly for one connection; direction 0 is client → server. See README.md for the policy. */
export class TcpConnection {
  readonly halves: [TcpHalf, TcpHalf] = [new TcpHalf(), new TcpHalf()];
  constructor(
    private readonly ctx: ReassemblyContext,
    private readonly handler: FlowHandler,
  ) {}

  /** One segment of direction `dir`. Returns TCP_OPEN, TCP_CLOSE_FIN, TCP_CLOSE_RST or TCP_REUSE. */
  packet(
    dir: Direction,
    flags: number,
    seq: number,
    ack: number,
    payload: Buffer,
    truncated: boolean,
    tsSec: number,
    tsNsec: number,
  ): number {
    const half = this.halves[dir];
    const other = this.halves[dir ^ 1];
    const ctx = this.ctx;

    if (flags & TcpFlag.RST) {
      // RFC 1122 4.2.2.12: "A TCP SHOULD allow a received RST segment to include data."
      // Such data explains the reset; it is not stream data.
      if (payload.length > 0) ctx.issues.count('tcp.rst_payload');
      return TCP_CLOSE_RST;
    }

    // RFC 793 3.3 (kept in RFC 9293 3.4): "the SYN is considered to occur before the
    // first actual data octet of the segment in which it occurs, while the FIN is
    // considered to occur after the last actual data octet in a segment in which it occurs."
    let dataSeq = seq;
    if (flags & TcpFlag.SYN) {
      dataSeq = (seq + 1) >>> 0;
      if (!(flags & TcpFlag.ACK)) {
        if (dir === 0 && !half.started && !other.started) {
          half.isn = seq;
          half.start(dataSeq);
        } else if (dir === 0 && half.isn === seq) {
          ctx.issues.count('tcp.retransmission');
          return TCP_OPEN;
        } else if (dir === 0 && half.isn === -1 && half.started && half.next === 0 && half.base === dataSeq) {
          // The SYN arrived after the SYN-ACK (reordered): it is this connection's own.
          half.isn = seq;
          return TCP_OPEN;
        } else {
          return TCP_REUSE;
        }
      } else if (!half.started) {
        half.isn = seq;
        half.start(dataSeq);
        // The SYN-ACK acknowledges the client's ISN + 1: where the client's data begins.
        if (!other.started) other.start(ack);
      } else if (half.isn !== seq) {
        ctx.issues.count('tcp.syn_ack_mismatch');
        return TCP_OPEN;
      }
    }

    const hasFin = (flags & TcpFlag.FIN) !== 0;
    if (payload.length === 0 && !hasFin) return TCP_OPEN;
    // Offsets start at the first byte a direction shows; a bare ACK does not start one
    // (a keep-alive carries SND.NXT-1 and would shift the stream by a byte).
    if (!half.started) half.start(dataSeq);
    const off = half.offsetOf(dataSeq);
    if (payload.length > 0) {
      if (truncated) ctx.issues.count('tcp.truncated_segment');
      this.segment(half, dir, off, payload, truncated, tsSec, tsNsec);
    }
    if (hasFin) this.setFin(half, off + payload.length);
    return half.fin >= 0 && other.fin >= 0 ? TCP_CLOSE_FIN : TCP_OPEN;
  }

  /**
   * Ends both directions: each hole left before held data (or before a FIN) becomes a
   * gap, then the held data is delivered. Direction 0 first.
   */
  finish(tsSec: number, tsNsec: number): void {
    this.finishHalf(this.halves[0], 0, tsSec, tsNsec);
    this.finishHalf(this.halves[1], 1, tsSec, tsNsec);
  }

  private finishHalf(half: TcpHalf, dir: Direction, tsSec: number, tsNsec: number): void {
    while (half.held.length > 0) {
      const first = half.held[0];
      if (first.off > half.next) {
        this.gap(dir, first.off - half.next, tsSec, tsNsec);
        half.next = first.off;
      }
      this.drain(half, dir, tsSec, tsNsec);
    }
    if (half.fin > half.next) {
      this.gap(dir, half.fin - half.next, tsSec, tsNsec);
      half.next = half.fin;
    }
  }

  private setFin(half: TcpHalf, fin: number): void {
    if (half.fin >= 0) return; // a retransmitted FIN
    // A FIN before bytes already delivered is bogus; the direction ends where it stands.
    half.fin = fin < half.next ? half.next : fin;
    // Held bytes past the FIN can never be part of the stream.
    const held = half.held;
    for (let i = held.length - 1; i >= 0 && held[i].end > half.fin; i--) {
      const s = held[i];
      this.ctx.issues.count('tcp.data_after_fin');
      if (s.off >= half.fin) {
        this.release(half, s.end - s.off);
        held.pop();
      } else {
        this.release(half, s.end - half.fin);
        s.data = s.data.subarray(0, half.fin - s.off);
        s.end = half.fin;
      }
    }
  }

  private segment(
    half: TcpHalf,
    dir: Direction,
    off: number,
    data: Buffer,
    truncated: boolean,
    tsSec: number,
    tsNsec: number,
  ): void {
    const ctx = this.ctx;
    let end = off + data.length;
    if (half.fin >= 0 && end > half.fin) {
      ctx.issues.count('tcp.data_after_fin');
      if (off >= half.fin) return;
      data = data.subarray(0, half.fin - off);
      end = half.fin;
    }
    for (;;) {
      if (end <= half.next) {
        // RFC 1122 4.2.3.6: a keep-alive "generally contains SEG.SEQ = SND.NXT-1 and may
        // or may not contain one garbage octet of data" — expected, not a retransmission.
        if (!(data.length === 1 && end === half.next)) ctx.issues.count('tcp.retransmission');
        return;
      }
      if (off < half.next) {
        // Already-delivered bytes are never delivered again; only the new tail goes on.
        ctx.issues.count('tcp.retransmission');
        data = data.subarray(half.next - off);
        off = half.next;
      }
      if (off === half.next) {
        this.deliver(dir, data, tsSec, tsNsec);
        half.next = end;
        half.truncPending = truncated;
        if (half.held.length > 0) this.drain(half, dir, tsSec, tsNsec);
        return;
      }
      // A hole before this segment.
      if (half.truncPending && half.held.length === 0) {
        // The snaplen cut the previous segment: its missing tail will never be captured.
        this.gap(dir, off - half.next, tsSec, tsNsec);
        half.next = off;
        half.truncPending = false;
        continue;
      }
      if (this.hold(half, off, end, data)) return;
      // Over a limit: give up on the first hole (up to the earliest held byte, or this
      // segment), deliver what became contiguous, and try this segment again.
      const target = half.held.length > 0 && half.held[0].off < off ? half.held[0].off : off;
      this.gap(dir, target - half.next, tsSec, tsNsec);
      half.next = target;
      this.drain(half, dir, tsSec, tsNsec);
    }
  }

  /**
   * Holds the parts of [off, end) not already held: held segments never overlap, and
   * where a new one overlaps an old one the bytes received first win. Returns false,
   * holding nothing, when that would pass a limit.
   */
  private hold(half: TcpHalf, off: number, end: number, data: Buffer): boolean {
    const ctx = this.ctx;
    const held = half.held;
    // First held segment that ends after `off` (binary search: held is sorted).
    let lo = 0;
    let hi = held.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (held[mid].end <= off) lo = mid + 1;
      else hi = mid;
    }
    const first = lo;

    let newSegments = 0;
    let newBytes = 0;
    let cur = off;
    for (let j = first; j < held.length && held[j].off < end; j++) {
      const s = held[j];
      if (s.off > cur) {
        newSegments++;
        newBytes += s.off - cur;
      }
      if (s.end > cur) cur = s.end;
    }
    if (cur < end) {
      newSegments++;
      newBytes += end - cur;
    }

    if (newSegments > 0) {
      const limits = ctx.limits;
      if (held.length + newSegments > limits.maxSegmentsPerDirection) {
        ctx.issues.count('tcp.ooo_segments_limit');
        ctx.stats.limitHits.oooSegments++;
        return false;
      }
      if (half.heldBytes + newBytes > limits.maxBufferedPerDirection) {
        ctx.issues.count('tcp.ooo_flow_limit');
        ctx.stats.limitHits.oooFlow++;
        return false;
      }
      if (ctx.stats.heldBytes + newBytes > limits.maxBufferedTotal) {
        ctx.issues.count('tcp.ooo_global_limit');
        ctx.stats.limitHits.oooGlobal++;
        return false;
      }
    }

    let overlapped = false;
    let conflict = false;
    cur = off;
    let j = first;
    for (; j < held.length && held[j].off < end; j++) {
      const s = held[j];
      if (s.off > cur) {
        held.splice(j, 0, this.copy(half, data, off, cur, s.off));
        j++;
      }
      const from = cur > s.off ? cur : s.off;
      const to = end < s.end ? end : s.end;
      if (to > from) {
        overlapped = true;
        if (!data.subarray(from - off, to - off).equals(s.data.subarray(from - s.off, to - s.off))) conflict = true;
      }
      if (s.end > cur) cur = s.end;
    }
    if (cur < end) held.splice(j, 0, this.copy(half, data, off, cur, end));
    if (conflict) ctx.issues.count('tcp.overlap_conflict');
    else if (overlapped) ctx.issues.count('tcp.retransmission');
    return true;
  }

  /** A copy of data[from - off, to - off): held bytes must not pin the capture's chunks. */
  private copy(half: TcpHalf, data: Buffer, off: number, from: number, to: number): HeldSegment {
    const bytes = Buffer.allocUnsafe(to - from);
    data.copy(bytes, 0, from - off, to - off);
    half.heldBytes += to - from;
    const stats = this.ctx.stats;
    stats.heldBytes += to - from;
    if (stats.heldBytes > stats.heldBytesPeak) stats.heldBytesPeak = stats.heldBytes;
    return { off: from, end: to, data: bytes };
  }

  private release(half: TcpHalf, n: number): void {
    half.heldBytes -= n;
    this.ctx.stats.heldBytes -= n;
  }

  /** Delivers the held segments that became contiguous with `next`. */
  private drain(half: TcpHalf, dir: Direction, tsSec: number, tsNsec: number): void {
    const held = half.held;
    while (held.length > 0 && held[0].off <= half.next) {
      const s = held.shift()!;
      this.release(half, s.end - s.off);
      if (s.end > half.next) {
        this.deliver(dir, s.off < half.next ? s.data.subarray(half.next - s.off) : s.data, tsSec, tsNsec);
        half.next = s.end;
        half.truncPending = false;
      }
    }
  }

  private deliver(dir: Direction, data: Buffer, tsSec: number, tsNsec: number): void {
    this.ctx.stats.bytesDelivered += data.length;
    this.handler.onData(dir, data, tsSec, tsNsec);
  }

  private gap(dir: Direction, length: number, tsSec: number, tsNsec: number): void {
    if (length <= 0) return;
    const stats = this.ctx.stats;
    stats.gaps++;
    stats.gapBytes += length;
    this.ctx.issues.count('tcp.gap');
    this.handler.onGap(dir, length, tsSec, tsNsec);
  }
}
