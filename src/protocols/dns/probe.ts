/**
 * Is this DNS? Decided by content (header sanity and a question that reads), never by
 * port: ports only choose which protocols are probed first.
 */
import type { ProbeResult } from '../types.js';
import type { ConnectionInfo } from '../../reassembly/types.js';
import { HEADER_SIZE, readMessage } from './message.js';
import { isAssignedOpcode } from './names.js';

/**
 * Questions in one message beyond which it is not taken for DNS. Unicast DNS carries 1;
 * mDNS browsers ask a dozen or more at once (RFC 6762 5.3 lets one query hold many).
 */
const MAX_PROBE_QUESTIONS = 32;
/** RFC 1035 4.1.2: the smallest question is the root name (1) + QTYPE + QCLASS. */
const MIN_QUESTION = 5;
/** RFC 1035 4.1.3: the smallest record is the root name (1) + 10 fixed octets. */
const MIN_RECORD = 11;

const PROBE_READ = { maxRecordsPerSection: 64, maxPointerHops: 64, mdns: false } as const;
const PROBE_QUESTIONS = { ...PROBE_READ, questionsOnly: true } as const;

export function probeDns(data: Buffer, conn: ConnectionInfo): ProbeResult {
  if (conn.transport === 'tcp') {
    // RFC 1035 4.2.2: "The message is prefixed with a two byte length field which gives
    // the message length, excluding the two byte length field."
    if (data.length < 2) return 'more';
    const len = data.readUInt16BE(0);
    if (len < HEADER_SIZE) return 'no';
    const end = Math.min(data.length, 2 + len);
    if (end - 2 < HEADER_SIZE) return 'more';
    return looksLikeDns(data, 2, end, len);
  }
  return looksLikeDns(data, 0, data.length, data.length);
}

/**
 * Header sanity for the message of `size` bytes that starts at `start`, of which
 * buf[start, end) is at hand (a question cut short by `end` means 'more', not 'no').
 */
export function looksLikeDns(buf: Buffer, start: number, end: number, size: number): ProbeResult {
  const complete = end - start >= size;
  if (size < HEADER_SIZE) return 'no';
  if (end - start < HEADER_SIZE) return 'more';
  const b2 = buf[start + 2];
  const qr = (b2 & 0x80) !== 0;
  if (!isAssignedOpcode((b2 >> 3) & 0x0f)) return 'no';
  // RCODE values 12-15 are unassigned in the 4-bit header field.
  const rcode = buf[start + 3] & 0x0f;
  if (rcode > 11) return 'no';
  const qd = buf.readUInt16BE(start + 4);
  const records = buf.readUInt16BE(start + 6) + buf.readUInt16BE(start + 8) + buf.readUInt16BE(start + 10);
  if (qd > MAX_PROBE_QUESTIONS) return 'no';
  // A query asks something; only a response (an error, an mDNS announcement) may carry no question.
  if (qd === 0 && (!qr || (records === 0 && rcode === 0))) return 'no';
  if (HEADER_SIZE + qd * MIN_QUESTION + records * MIN_RECORD > size) return 'no';
  const msg = readMessage(buf, start, Math.min(end, start + size), qd === 0 ? PROBE_READ : PROBE_QUESTIONS);
  if (msg.issue === 'dns.truncated' && !complete) return 'more';
  if (msg.issue !== '') return 'no';
  for (const q of msg.questions) {
    // IANA DNS CLASSes (RFC 6895 3.2): class 0 is "Reserved"; no resolver asks in it,
    // but zero-filled bytes of other protocols (an NTP client packet) read as such a question.
    if (q.class === 'CLASS0') return 'no';
    if (isNetbiosQuestion(q.name, q.type)) return 'no';
  }
  return 'match';
}

/**
 * NetBIOS Name Service (RFC 1002) reuses the DNS message format on UDP 137, but is
 * not DNS. RFC 1002 4.2.1.2: "QUESTION_TYPE ... NB 0x0020 ... NBSTAT 0x0021" (in DNS
 * numbering NIMLOC and SRV); RFC 1001 14.1: the first-level encoding splits each
 * byte of the 16-byte NetBIOS name into two nibbles "each ... added to the ASCII
 * character 'A'", so the first label is 32 letters from 'A' to 'P'.
 */
function isNetbiosQuestion(name: string, type: string): boolean {
  if (type !== 'NIMLOC' && type !== 'SRV') return false;
  if (name.length < 32 || (name.length > 32 && name[32] !== '.')) return false;
  for (let i = 0; i < 32; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x41 || c > 0x50) return false;
  }
  return true;
}
