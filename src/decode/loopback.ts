import { Next, Outcome, type LayerState } from './state.js';

/**
 * BSD loopback (LINKTYPE_NULL 0, LINKTYPE_LOOP 108): a 4-byte address family.
 * NULL stores it in the capturing host's byte order, which the file does not say, and
 * LOOP in network order (though old OpenBSD files disagree); both are read the same way:
 * every AF value is < 256, so whichever byte order gives a small number is the right one.
 * AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD, BSD/OS), 28 (FreeBSD,
 * DragonFly), 30 (Darwin) or 10 (Linux), as libpcap's list of them says.
 */
export function decodeLoopback(s: LayerState): number {
  if (s.end - s.off < 4) return s.fail(Outcome.TRUNCATED, 'loopback.truncated');
  let family = s.buf.readUInt32LE(s.off);
  if (family > 0xff) family = s.buf.readUInt32BE(s.off);
  s.off += 4;
  switch (family) {
    case 2:
      return Next.IPV4;
    case 10:
    case 24:
    case 28:
    case 30:
      return Next.IPV6;
    default:
      return s.fail(Outcome.NON_IP, 'loopback.unknown_family');
  }
}
