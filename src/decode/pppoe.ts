import { nextForPppProtocol } from './ppp.js';
import { Outcome, type LayerState } from './state.js';

/**
 * PPPoE session stage (RFC 2516 4): VER (4 bits) = 1, TYPE (4 bits) = 1, CODE = 0x00,
 * SESSION_ID (2), LENGTH (2) "the length of the PPPoE payload", then the PPP protocol
 * field (RFC 1661), two bytes here.
 */
export function decodePppoe(s: LayerState): number {
  if (s.end - s.off < 8) return s.fail(Outcome.TRUNCATED, 'pppoe.truncated');
  const buf = s.buf;
  if (buf[s.off] !== 0x11 || buf[s.off + 1] !== 0x00) return s.fail(Outcome.MALFORMED, 'pppoe.bad_header');
  const length = buf.readUInt16BE(s.off + 4);
  const proto = buf.readUInt16BE(s.off + 6);
  const payloadStart = s.off + 6;
  if (payloadStart + length > s.wantEnd) return s.fail(Outcome.MALFORMED, 'pppoe.bad_length');
  s.wantEnd = payloadStart + length;
  if (s.end > s.wantEnd) s.end = s.wantEnd;
  s.off += 8;
  return nextForPppProtocol(s, proto);
}
