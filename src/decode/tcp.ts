import { Next, Outcome, type LayerState } from './state.js';
import { u16be, u32be } from '../common/bytes.js';

const EMPTY = Buffer.alloc(0);

/**
 * TCP (RFC 9293 3.1). "Data Offset (DOffset): 4 bits. The number of 32-bit words in the
 * TCP header. This indicates where the data begins." Options are skipped; the NS/AE bit
 * in byte 12 is not part of `tcpFlags`. The checksum is not verified (offload, as IPv4).
 */
export function decodeTcp(s: LayerState): number {
  const buf = s.buf;
  const off = s.off;
  const out = s.out;
  if (s.end - off < 20) {
    return s.wantEnd - off < 20 ? s.fail(Outcome.MALFORMED, 'tcp.bad_length') : s.fail(Outcome.TRUNCATED, 'tcp.truncated');
  }
  const headerLen = (buf[off + 12] >> 4) * 4;
  if (headerLen < 20 || s.wantEnd - off < headerLen) return s.fail(Outcome.MALFORMED, 'tcp.bad_data_offset');
  if (s.end - off < headerLen) return s.fail(Outcome.TRUNCATED, 'tcp.truncated');
  out.srcPort = u16be(buf, off);
  out.dstPort = u16be(buf, off + 2);
  out.seq = u32be(buf, off + 4);
  out.ack = u32be(buf, off + 8);
  out.tcpFlags = buf[off + 13];
  out.window = u16be(buf, off + 14);
  // Most segments of a transfer's other direction are bare ACKs: one shared empty view for
  // them, not a new Buffer object each.
  out.payload = off + headerLen >= s.end ? EMPTY : buf.subarray(off + headerLen, s.end);
  out.truncated = s.end < s.wantEnd;
  s.off = off + headerLen;
  s.outcome = Outcome.DECODED;
  return Next.STOP;
}
