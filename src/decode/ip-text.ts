import { u32be } from '../common/bytes.js';
/** Decimal text of every octet, so a dotted quad is four lookups and three joins. */
const OCTET: string[] = Array.from({ length: 256 }, (_, i) => String(i));

/** Dotted quads already built; flows repeat their addresses, so most lookups hit. */
const ipv4Cache = new Map<number, string>();
/** Past this many cached addresses the cache starts over (a scan must not grow it without bound). */
const IPV4_CACHE_LIMIT = 65536;

/** Dotted-quad text of the IPv4 address at `buf[off, off + 4)`; the caller checks bounds. */
export function ipv4Text(buf: Buffer, off: number): string {
  const n = u32be(buf, off);
  let text = ipv4Cache.get(n);
  if (text === undefined) {
    text = OCTET[buf[off]] + '.' + OCTET[buf[off + 1]] + '.' + OCTET[buf[off + 2]] + '.' + OCTET[buf[off + 3]];
    if (ipv4Cache.size >= IPV4_CACHE_LIMIT) ipv4Cache.clear();
    ipv4Cache.set(n, text);
  }
  return text;
}

const groups = new Uint16Array(8);

/**
 * RFC 5952 text of the IPv6 address at `buf[off, off + 16)`; the caller checks bounds.
 * 4.1 "Leading zeros MUST be suppressed"; 4.2.1 "The use of the symbol '::' MUST be used
 * to its maximum capability"; 4.2.2 "The symbol '::' MUST NOT be used to shorten just one
 * 16-bit 0 field"; 4.2.3 "When there is an alternative choice in the placement of a '::',
 * the longest run of consecutive 16-bit 0 fields MUST be shortened ... When the length of
 * the consecutive 16-bit 0 fields are equal, the first sequence of zero bits MUST be
 * shortened"; 4.3 "The characters 'a', 'b', 'c', 'd', 'e', and 'f' ... MUST be
 * represented in lowercase"; 5 recommends the mixed form for IPv4-mapped addresses.
 */
export function ipv6Text(buf: Buffer, off: number): string {
  let bestStart = -1;
  let bestLen = 1; // a run must be at least 2 groups long (4.2.2)
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    const g = (buf[off + 2 * i] << 8) | buf[off + 2 * i + 1];
    groups[i] = g;
    if (g === 0) {
      if (runStart < 0) runStart = i;
      if (i - runStart + 1 > bestLen) {
        bestLen = i - runStart + 1;
        bestStart = runStart;
      }
    } else {
      runStart = -1;
    }
  }
  // ::ffff:a.b.c.d — 80 zero bits, 16 one bits, then the IPv4 address (RFC 4291 2.5.5.2).
  if (bestStart === 0 && bestLen === 5 && groups[5] === 0xffff) {
    return '::ffff:' + ipv4Text(buf, off + 12);
  }
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLen - 1;
      continue;
    }
    if (text.length > 0 && !text.endsWith(':')) text += ':';
    text += groups[i].toString(16);
  }
  return text;
}
