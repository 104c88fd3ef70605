/**
 * A DNS entry's request and response as their messages' bytes.
 *
 * The records of an entry (requestFields, responseFields) are what readMessage makes of the
 * message, and readMessage depends on nothing but the bytes and its options. So the store
 * can keep the message instead of the records' JSON, and read it again (recordOfWire):
 * - about 170 bytes for a query and its answer, against 1,000 characters of JSON with
 *   sixteen flags, the sections and EDNS;
 * - the JSON of those records was three quarters of what storing a DNS entry cost the
 *   tap's dissection thread (src/store/README.md "DNS messages").
 *
 * With ParserSettings.dnsWire (what `tapline tap` sets) the parser keeps a copy of each
 * message under a symbol of its record, not enumerable: JSON, copies and comparisons never
 * see it. The split stored form (src/store/split-form.ts) writes it in the record's place.
 */
import { readMessage, type DnsMessage, type DnsReadOptions } from './message.js';

const WIRE = Symbol('tapline.dnsWire');

/** A message as the parser read it: its bytes (a copy of their own) and the options it was read with. */
export interface DnsWire {
  bytes: Buffer;
  opts: DnsReadOptions;
}

/** The fields of a query's record in an entry. */
export function requestFields(msg: DnsMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { id: msg.id, opCode: msg.opCode, flags: msg.flags, questions: msg.questions };
  // Queries rarely carry records; UPDATE (RFC 2136) and NOTIFY do, and EDNS rides in additionals.
  if (msg.answers.length > 0) out.answers = msg.answers;
  if (msg.authorities.length > 0) out.authorities = msg.authorities;
  if (msg.additionals.length > 0) out.additionals = msg.additionals;
  if (msg.edns !== undefined) out.edns = msg.edns;
  return out;
}

/** The fields of a response's record in an entry. */
export function responseFields(msg: DnsMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: msg.id,
    code: msg.code,
    flags: msg.flags,
    answers: msg.answers,
    authorities: msg.authorities,
    additionals: msg.additionals,
  };
  if (msg.opcode !== 0) out.opCode = msg.opCode;
  if (msg.edns !== undefined) out.edns = msg.edns;
  return out;
}

/**
 * Keeps the message a record was made from beside it (not enumerable). The store writes
 * the message in the record's place, so a record must not be changed once it has one:
 * whatever changes records between the parser and the store (nothing does today) must
 * make a new record, which has none.
 */
export function keepWire(record: Record<string, unknown>, wire: DnsWire): void {
  Object.defineProperty(record, WIRE, { value: wire });
}

/** The message a record was made from, when the parser kept it. */
export function wireOf(record: unknown): DnsWire | undefined {
  return record !== null && typeof record === 'object' ? ((record as Record<symbol, unknown>)[WIRE] as DnsWire | undefined) : undefined;
}

/**
 * Every text of a record (names, types, classes, data, codes, EDNS options), in the order
 * met: what its JSON holds as strings. The store writes them beside the messages, where a
 * text search of the stored bytes (storedFormHas) finds what it would have found in the
 * JSON: in a message a name is labels and an address four bytes. Numbers and booleans
 * have no place there (KFL's push-down never looks for them as text).
 */
export function recordTexts(record: Record<string, unknown>, out: string[]): void {
  const r = record as { opCode?: unknown; code?: unknown; questions?: unknown; answers?: unknown; authorities?: unknown; additionals?: unknown; edns?: unknown };
  if (typeof r.opCode === 'string') out.push(r.opCode);
  if (typeof r.code === 'string') out.push(r.code);
  for (const list of [r.questions, r.answers, r.authorities, r.additionals]) {
    if (!Array.isArray(list)) continue;
    for (const q of list as { name: string; type: string; class: string; data?: string }[]) {
      out.push(q.name, q.type, q.class);
      if (q.data !== undefined) out.push(q.data);
    }
  }
  const edns = r.edns as { options?: { name: string; data: string }[] } | undefined;
  if (edns?.options !== undefined) for (const o of edns.options) out.push(o.name, o.data);
}

/** Bytes before the message in a written wire: u8 flags (1: mDNS), u32 maxRecordsPerSection, u32 maxPointerHops (little-endian). */
export const WIRE_HEADER_BYTES = 9;

/** Writes `wire` at `offset` of `b` (WIRE_HEADER_BYTES + its message's bytes free there); returns the bytes written. */
export function writeWire(wire: DnsWire, b: Buffer, offset: number): number {
  b[offset] = wire.opts.mdns ? 1 : 0;
  b.writeUInt32LE(wire.opts.maxRecordsPerSection, offset + 1);
  b.writeUInt32LE(wire.opts.maxPointerHops, offset + 5);
  b.set(wire.bytes, offset + WIRE_HEADER_BYTES);
  return WIRE_HEADER_BYTES + wire.bytes.length;
}

/**
 * The record of the wire written at b[start, end) (writeWire): the query's fields or the
 * response's. Undefined when the bytes are too short to hold the header or its flags are
 * unknown; a message that does not read whole gives the record it gave when captured.
 */
export function recordOfWire(b: Buffer, start: number, end: number, side: 'request' | 'response'): Record<string, unknown> | undefined {
  if (end - start < WIRE_HEADER_BYTES || b[start]! > 1) return undefined;
  const opts: DnsReadOptions = { mdns: b[start] === 1, maxRecordsPerSection: b.readUInt32LE(start + 1), maxPointerHops: b.readUInt32LE(start + 5) };
  const msg = readMessage(b, start + WIRE_HEADER_BYTES, end, opts);
  return side === 'request' ? requestFields(msg) : responseFields(msg);
}
