import type { IssueCounter } from '../common/index.js';
import type { DecodeLimits } from './types.js';

interface Piece {
  /** Byte offset of this piece in the reassembled datagram's payload. */
  start: number;
  end: number;
  /** A view of the captured bytes (sources never overwrite them). */
  data: Buffer;
}

interface Train {
  firstSec: number;
  pieces: Piece[];
  /** Payload length, known once the fragment with MF = 0 arrived; -1 before. */
  totalLen: number;
  /** A limit or a contradiction killed this train: its later fragments are dropped quietly until it times out. */
  dead: boolean;
}

/**
 * IP fragment reassembly for IPv4 (RFC 791 3.2) and IPv6 (RFC 8200 4.5), keyed by
 * (version, source, destination, protocol, identification).
 *
 * Overlap policy: **first wins**. A byte already received is never replaced by a later
 * fragment's byte; the later fragment only fills holes. Each fragment that overlaps
 * bytes already held counts `ip.frag_overlap`. (RFC 5722 asks IPv6 receivers to drop the
 * whole datagram instead; a monitor would then show nothing at all of what the end host
 * may well have accepted, so Tapline keeps the first copy, like BSD stacks and Windows.)
 *
 * Limits, each counted when hit: `ip.frag_trains_limit` (the oldest train is evicted),
 * `ip.frag_count_limit` and `ip.frag_size_limit` (the train is dropped), `ip.frag_timeout`
 * (a train older than `fragmentTimeoutSec` is dropped, by `expire` or when touched).
 */
export class FragmentTable {
  private readonly trains = new Map<string, Train>();
  /** Trains completed since creation. */
  reassembled = 0;

  constructor(
    private readonly limits: DecodeLimits,
    private readonly issues: IssueCounter,
  ) {}

  get size(): number {
    return this.trains.size;
  }

  /**
   * Adds one fragment; returns the reassembled payload (a fresh Buffer) when this
   * fragment completes its train, else null. `record` receives every issue code met,
   * for the packet's own issue list.
   */
  add(key: string, offset: number, more: boolean, data: Buffer, nowSec: number, record: (code: string) => void): Buffer | null {
    const limits = this.limits;
    let train = this.trains.get(key);
    if (train !== undefined && nowSec - train.firstSec > limits.fragmentTimeoutSec) {
      this.trains.delete(key);
      if (!train.dead) this.hit('ip.frag_timeout', record);
      train = undefined;
    }
    if (train === undefined) {
      if (this.trains.size >= limits.maxFragmentTrains) {
        this.hit('ip.frag_trains_limit', record);
        // Map keeps insertion order: the first key is the oldest train.
        const oldest = this.trains.keys().next().value;
        if (oldest !== undefined) this.trains.delete(oldest);
        if (limits.maxFragmentTrains <= 0) return null;
      }
      train = { firstSec: nowSec, pieces: [], totalLen: -1, dead: false };
      this.trains.set(key, train);
    }
    if (train.dead) return null;

    const start = offset;
    const end = offset + data.length;
    if (end > limits.maxReassembledSize) return this.kill(train, 'ip.frag_size_limit', record);
    if (train.pieces.length >= limits.maxFragmentsPerTrain) return this.kill(train, 'ip.frag_count_limit', record);
    if (!more) {
      // RFC 791: the fragment with MF = 0 fixes the datagram's length; a second one
      // saying otherwise, or data beyond it, leaves nothing trustworthy to rebuild.
      if (train.totalLen >= 0 && train.totalLen !== end) return this.kill(train, 'ip.frag_bad_length', record);
      train.totalLen = end;
    }
    if (train.totalLen >= 0 && end > train.totalLen) return this.kill(train, 'ip.frag_bad_length', record);

    const pieces = train.pieces;
    for (let i = 0; i < pieces.length; i++) {
      if (start < pieces[i].end && pieces[i].start < end) {
        this.hit('ip.frag_overlap', record);
        break;
      }
    }
    pieces.push({ start, end, data });
    if (train.totalLen < 0 || !covers(pieces, train.totalLen)) {
      // Kept past this call, so copied: the caller's bytes may be a live batch that goes
      // back to the capture thread to be filled again (src/pipeline/batch-reuse.test.ts).
      pieces[pieces.length - 1]!.data = Buffer.from(data);
      return null;
    }

    this.trains.delete(key);
    this.reassembled++;
    const out = Buffer.allocUnsafe(train.totalLen);
    // Later arrivals are written first, so earlier ones overwrite them: first wins.
    for (let i = pieces.length - 1; i >= 0; i--) pieces[i].data.copy(out, pieces[i].start);
    return out;
  }

  /** Drops trains older than the fragment timeout at capture time `nowSec`; returns how many. */
  expire(nowSec: number): number {
    let n = 0;
    for (const [key, train] of this.trains) {
      if (nowSec - train.firstSec > this.limits.fragmentTimeoutSec) {
        this.trains.delete(key);
        if (!train.dead) {
          this.issues.count('ip.frag_timeout');
          n++;
        }
      }
    }
    return n;
  }

  private hit(code: string, record: (code: string) => void): void {
    record(code);
  }

  private kill(train: Train, code: string, record: (code: string) => void): null {
    train.dead = true;
    train.pieces.length = 0;
    this.hit(code, record);
    return null;
  }
}

/** True when the pieces cover [0, totalLen) without a hole. */
function covers(pieces: Piece[], totalLen: number): boolean {
  const sorted = pieces.length > 1 ? [...pieces].sort((a, b) => a.start - b.start) : pieces;
  let reached = 0;
  for (const p of sorted) {
    if (p.start > reached) return false;
    if (p.end > reached) reached = p.end;
  }
  return reached >= totalLen;
}
