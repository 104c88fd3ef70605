/**
 * The split stored form of an entry that carries a body: its JSON with the body texts and
 * the bytes of deferred gzip bodies taken out (the "skeleton"), followed by those texts
 * and bytes as they are. JSON would escape every quote of a body, V8's serializer grows
 * a buffer of its own for it and walks every object in C++; this form costs one
 * JSON.stringify of the small rest and one copy of each body, written straight into the
 * caller's buffer (README.md "Schema and indexes" has the figures).
 *
 * Layout (little-endian):
 *
 *     fd               tag (V8's form begins with ff, a log reference with fe, JSON with `{`)
 *     u32 n, n bytes   the skeleton: the entry as UTF-8 JSON, each taken-out value
 *                      replaced (a text by "", deferred bytes by null)
 *     u8 count         taken-out values, each:
 *       u8 slot        which one (SLOTS below)
 *       u32 n, n bytes a text as UTF-8, bytes whose text is their base64, or the bytes
 *
 * A body whose text is still its bytes (ParserSettings.lazyBodyText, what `tapline tap`
 * sets) is written as those bytes, never made a string on the dissection thread: UTF-8
 * text as it came (reading it back decodes it as making the string would have, bad
 * sequences becoming U+FFFD either way), binary bodies raw in slots 7 and 8, encoded in
 * base64 only when read. Entries are written far more often than read.
 *
 * A DNS record whose message the parser kept (ParserSettings.dnsWire) is written as that
 * message (slots 9 and 10, src/protocols/dns/wire.ts) and read again into the same record;
 * its place in the skeleton holds null. Slot 11 then holds the records' texts, joined by
 * zero bytes, for a text search of the stored bytes (storedFormHas), which
 * would not find a name in a message (labels) or an address (four bytes); reading skips it.
 *
 * An HTTP record whose head the parser kept (ParserSettings.httpHeads) is written without
 * the fields made from the head (method to cookies, status to cookies), and the head's text
 * in slots 12 and 13: u32 maxHeaders, then the text as latin1 (src/protocols/http/kept-head.ts).
 * Reading parses the head again and puts those fields back before the record's others, in
 * the order the parser makes them. What the fields hold that the head does not hold as it
 * is (joined values, decoded query parts: headTexts) goes into slot 11 too.
 */
import type { Entry } from '../entries/index.js';
import { BODY_SIDES } from '../entries/body-sides.js';
import { pendingText } from '../protocols/http/lazy-text.js';
import { recordOfWire, recordTexts, wireOf, writeWire, WIRE_HEADER_BYTES, type DnsWire } from '../protocols/dns/wire.js';
import { HEAD_KEYS, headBytes, headFieldsOf, headOf, headTexts, writeHead, type KeptHead } from '../protocols/http/kept-head.js';
import { StoreError } from './errors.js';

export const SPLIT_TAG = 0xfd;

/** What is taken out, by slot number − 1: [body (index in BODY_SIDES), field, in `deferred`, how its bytes are read]. */
const SLOTS = [
  [0, 'text', false, 'utf8'],
  [1, 'text', false, 'utf8'],
  [0, 'bytes', true, 'bytes'],
  [0, 'tail', true, 'bytes'],
  [1, 'bytes', true, 'bytes'],
  [1, 'tail', true, 'bytes'],
  [0, 'text', false, 'base64'],
  [1, 'text', false, 'base64'],
] as const;

/** Slots past SLOTS: a DNS record written as its message, by slot number − WIRE_SLOT. */
const WIRE_SLOT = SLOTS.length + 1;
const WIRE_SIDES = ['request', 'response'] as const;
/** The texts of the records written as messages (recordTexts) or heads (headTexts), for searching only. */
const TEXTS_SLOT = WIRE_SLOT + WIRE_SIDES.length;
/** An HTTP record's head, by slot number − HEAD_SLOT (the sides of WIRE_SIDES). */
const HEAD_SLOT = TEXTS_SLOT + 1;

/** Whether the entry has a DNS record to write as its message or an HTTP record to write with its head. */
export function hasRecordBytes(entry: Entry): boolean {
  const { request, response } = entry;
  return wireOf(request) !== undefined || wireOf(response) !== undefined || headOf(request) !== undefined || headOf(response) !== undefined;
}

type Rec = Record<string, unknown>;

/** String.prototype.isWellFormed: ES2024, in Node 20, past this project's ES2022 lib. */
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

function record(v: unknown): Rec | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) ? (v as Rec) : undefined;
}

/** An entry ready to be written in the split form: its skeleton and what was taken out, by slot. */
export interface SplitParts {
  skeleton: string;
  slots: number[];
  values: (string | Uint8Array | DnsWire | KeptHead)[];
  /** Bytes writeSplit takes at most (a text's UTF-8 length is not measured beforehand). */
  maxBytes: number;
}

/**
 * The split form's parts of `entry`, or undefined when it has no body text nor deferred
 * bytes to take out. The entry itself is not changed: the records on the way to a body
 * are copied. A text that is not well-formed UTF-16 (a lone surrogate) stays in the
 * skeleton, where JSON escapes it, since UTF-8 could not give it back.
 */
export function splitParts(entry: Entry): SplitParts | undefined {
  let skeleton: Rec | undefined;
  const slots: number[] = [];
  const values: (string | Uint8Array | DnsWire | KeptHead)[] = [];
  let bytes = 0;
  let texts: string[] | undefined;
  // The sides' records in the skeleton when they are not the entry's own (without their head fields).
  let sides: (Rec | undefined)[] | undefined;
  for (let s = 0; s < WIRE_SIDES.length; s++) {
    const sideKey = WIRE_SIDES[s]!;
    const record = (entry as unknown as Rec)[sideKey];
    const wire = wireOf(record);
    if (wire !== undefined) {
      skeleton ??= { ...(entry as unknown as Rec) };
      skeleton[sideKey] = null;
      slots.push(WIRE_SLOT + s);
      values.push(wire);
      bytes += 5 + WIRE_HEADER_BYTES + wire.bytes.length;
      recordTexts(record as Rec, (texts ??= []));
      continue;
    }
    const head = headOf(record);
    if (head === undefined) continue;
    const copy: Rec = {};
    const headKeys = HEAD_KEYS[sideKey];
    for (const k of Object.keys(record as Rec)) if (!headKeys.has(k)) copy[k] = (record as Rec)[k];
    (sides ??= [undefined, undefined])[s] = copy;
    slots.push(HEAD_SLOT + s);
    values.push(head);
    bytes += 5 + headBytes(head);
    texts = headTexts(record as Rec, head, texts);
  }
  if (texts !== undefined && texts.length > 0) {
    // One string, written at once: a write per text cost more than the JSON it replaces.
    const joined = texts.join('\0');
    slots.push(TEXTS_SLOT);
    values.push(joined);
    bytes += 5 + 3 * joined.length;
  }
  for (let s = 0; s < BODY_SIDES.length; s++) {
    const [sideKey, bodyKey] = BODY_SIDES[s]!;
    const copy = sides?.[s];
    const side = copy ?? record((entry as unknown as Rec)[sideKey]);
    const body = record(side?.[bodyKey]);
    if (body === undefined) continue;
    let bodyCopy: Rec | undefined;
    const pending = pendingText(body);
    if (pending !== undefined) {
      if (pending.bytes.length > 0) {
        bodyCopy = withoutText(body);
        slots.push(pending.base64 ? 7 + s : s + 1);
        values.push(pending.bytes);
        bytes += 5 + pending.bytes.length;
      }
    } else {
      const text = body.text;
      if (typeof text === 'string' && text.length > 0 && wellFormed(text)) {
        bodyCopy = { ...body, text: '' };
        slots.push(s + 1);
        values.push(text);
        bytes += 5 + 3 * text.length;
      }
    }
    const deferred = record(body.deferred);
    if (deferred !== undefined && (deferred.bytes instanceof Uint8Array || deferred.tail instanceof Uint8Array)) {
      const deferredCopy = { ...deferred };
      for (const [k, key] of [
        [0, 'bytes'],
        [1, 'tail'],
      ] as const) {
        const v = deferred[key];
        if (!(v instanceof Uint8Array)) continue;
        deferredCopy[key] = null;
        slots.push(3 + 2 * s + k);
        values.push(v);
        bytes += 5 + v.byteLength;
      }
      bodyCopy = { ...(bodyCopy ?? body), deferred: deferredCopy };
    }
    if (bodyCopy === undefined) continue;
    if (copy !== undefined) copy[bodyKey] = bodyCopy;
    else {
      skeleton ??= { ...(entry as unknown as Rec) };
      skeleton[sideKey] = { ...side, [bodyKey]: bodyCopy };
    }
  }
  if (sides !== undefined) {
    skeleton ??= { ...(entry as unknown as Rec) };
    for (let s = 0; s < WIRE_SIDES.length; s++) if (sides[s] !== undefined) skeleton[WIRE_SIDES[s]!] = sides[s];
  }
  if (skeleton === undefined) return undefined;
  const json = JSON.stringify(skeleton);
  // A UTF-16 code unit is at most 3 bytes of UTF-8.
  return { skeleton: json, slots, values, maxBytes: 1 + 4 + 3 * json.length + 1 + bytes };
}

/** A copy of a body record whose text is still bytes, with `text` "" in its place (a spread would make the string). */
function withoutText(body: Rec): Rec {
  const copy: Rec = {};
  for (const k of Object.keys(body)) copy[k] = k === 'text' ? '' : body[k];
  return copy;
}

/** Writes the parts at `offset` of `b` (which has parts.maxBytes bytes free there); returns the bytes written. */
export function writeSplit(parts: SplitParts, b: Buffer, offset: number): number {
  let o = offset;
  b[o++] = SPLIT_TAG;
  let n = b.write(parts.skeleton, o + 4, 'utf8');
  b.writeUInt32LE(n, o);
  o += 4 + n;
  b[o++] = parts.slots.length;
  for (let i = 0; i < parts.slots.length; i++) {
    b[o++] = parts.slots[i]!;
    const v = parts.values[i]!;
    if (typeof v === 'string') n = b.write(v, o + 4, 'utf8');
    else if (v instanceof Uint8Array) {
      b.set(v, o + 4);
      n = v.byteLength;
    } else n = isHead(v) ? writeHead(v, b, o + 4) : writeWire(v, b, o + 4);
    b.writeUInt32LE(n, o);
    o += 4 + n;
  }
  return o - offset;
}

/** Whether a value of the record slots is an HTTP head (else a DNS message). */
const isHead = (v: DnsWire | KeptHead): v is KeptHead => 'text' in v;

/** Bytes writeSplit writes for a value. */
function valueBytes(v: string | Uint8Array | DnsWire | KeptHead): number {
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (v instanceof Uint8Array) return v.byteLength;
  return isHead(v) ? headBytes(v) : WIRE_HEADER_BYTES + v.bytes.length;
}

/** The split form of `entry` in a Buffer of its own, or undefined when it has nothing to take out. */
export function splitBytes(entry: Entry): Buffer | undefined {
  const parts = splitParts(entry);
  if (parts === undefined) return undefined;
  // Exactly sized: the Buffer is kept (and may be posted to another thread, which copies all of it).
  let bytes = 1 + 4 + Buffer.byteLength(parts.skeleton, 'utf8') + 1;
  for (const v of parts.values) bytes += 5 + valueBytes(v);
  const b = Buffer.allocUnsafe(bytes);
  writeSplit(parts, b, 0);
  return b;
}

/** A split form that cannot be read: cut short, or a slot it does not know. */
export class SplitFormError extends StoreError {
  constructor(message: string) {
    super('store.damaged_entry', `stored entry (split form): ${message}`);
    this.name = 'SplitFormError';
  }
}

/**
 * The entry of a split form, its values put back. Deferred bytes are views of `b`: the
 * caller hands over a buffer nothing else writes (a row SQLite returned, a log read, a copy).
 */
export function readSplit(b: Buffer): Entry {
  if (b.length < 6 || b[0] !== SPLIT_TAG) throw new SplitFormError('no split form tag');
  const span = (o: number): [number, number] => {
    if (o + 4 > b.length) throw new SplitFormError(`length at byte ${o} past the end (${b.length} bytes)`);
    const end = o + 4 + b.readUInt32LE(o);
    if (end > b.length) throw new SplitFormError(`value at byte ${o} runs to ${end}, past the end (${b.length} bytes)`);
    return [o + 4, end];
  };
  let [start, o] = span(1);
  const entry = record(JSON.parse(b.toString('utf8', start, o)));
  if (entry === undefined) throw new SplitFormError('the skeleton is not an object');
  if (o >= b.length) throw new SplitFormError('no value count');
  const count = b[o++]!;
  for (let i = 0; i < count; i++) {
    if (o >= b.length) throw new SplitFormError(`value ${i + 1} of ${count} missing`);
    const slot = b[o]!;
    if (slot === TEXTS_SLOT) {
      // For searching only: the records come from their messages.
      [start, o] = span(o + 1);
      continue;
    }
    const headSide = WIRE_SIDES[slot - HEAD_SLOT];
    if (headSide !== undefined) {
      [start, o] = span(o + 1);
      const rest = record(entry[headSide]);
      if (rest === undefined) throw new SplitFormError(`slot ${slot}: ${headSide} is not in the skeleton`);
      const fields = headFieldsOf(b, start, o, headSide);
      if (fields === undefined) throw new SplitFormError(`slot ${slot}: not an HTTP ${headSide} head as written`);
      // The head's fields come first in the parser's records.
      entry[headSide] = Object.assign(fields, rest);
      continue;
    }
    const wireSide = WIRE_SIDES[slot - WIRE_SLOT];
    if (wireSide !== undefined) {
      [start, o] = span(o + 1);
      if (entry[wireSide] !== null) throw new SplitFormError(`slot ${slot}: ${wireSide} is not null in the skeleton`);
      const record = recordOfWire(b, start, o, wireSide);
      if (record === undefined) throw new SplitFormError(`slot ${slot}: not a DNS message as written`);
      entry[wireSide] = record;
      continue;
    }
    const where = SLOTS[slot - 1];
    if (where === undefined) throw new SplitFormError(`unknown slot ${slot} at byte ${o}`);
    [start, o] = span(o + 1);
    const [s, key, inDeferred, form] = where;
    const [sideKey, bodyKey] = BODY_SIDES[s];
    const body = record(record(entry[sideKey])?.[bodyKey]);
    const holder = inDeferred ? record(body?.deferred) : body;
    if (holder === undefined) throw new SplitFormError(`slot ${slot}: ${sideKey}.${bodyKey}${inDeferred ? '.deferred' : ''} is not in the skeleton`);
    holder[key] = form === 'bytes' ? b.subarray(start, o) : b.toString(form, start, o);
  }
  if (o !== b.length) throw new SplitFormError(`${b.length - o} bytes after the last value`);
  return entry as unknown as Entry;
}
