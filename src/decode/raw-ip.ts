import { Next, Outcome, type LayerState } from './state.js';

/**
 * LINKTYPE_RAW (101): no link header, "the packet begins with an IPv4 or IPv6 header,
 * with the version field of the header indicating whether it's an IPv4 or IPv6 header".
 */
export function decodeRawIp(s: LayerState): number {
  if (s.end - s.off < 1) return s.fail(Outcome.TRUNCATED, 'raw.truncated');
  const version = s.buf[s.off] >> 4;
  if (version === 4) return Next.IPV4;
  if (version === 6) return Next.IPV6;
  return s.fail(Outcome.MALFORMED, 'raw.bad_version');
}
