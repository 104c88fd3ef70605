/**
 * Body text that stays bytes until someone reads it (ParserSettings.lazyBodyText, which
 * `tapline read` and `tapline tap` set).
 *
 * A body's `text` is a property like any other to every reader (a KFL filter, redaction,
 * the table format), but the parser only keeps the UTF-8 bytes: the string is made the
 * first time `text` is read. A writer that can put the bytes straight into its output
 * (the JSON printer, through the json_text addon) serializes the entry with
 * stringifyMarked, where the getter gives a mark in place of the text, and never makes
 * the string: on the benchmark capture, bodies are 129 M of the 160 M characters `read`
 * prints, and making, escaping and encoding those strings was a quarter of its time.
 * (Marks from the getter replaced marks put in with defineProperty and taken out again
 * for every entry: `read` of the benchmark capture 0.70–0.76 → 0.67–0.70 s.) The tap's
 * store writes such bytes as they are (the split form, src/store/split-form.ts), and the
 * JSON of its smaller entries is made with stringifyUnsettled.
 */

import { BODY_SIDES } from '../../entries/body-sides.js';

/** Where a body record keeps its bytes until `text` is read (not enumerable: JSON, copies and comparisons never see it). */
const TEXT_BYTES = Symbol('tapline.textBytes');

type BodyRecord = Record<string | symbol, unknown>;

/** A body's text still as bytes: UTF-8 text, or bytes whose text is their base64. */
export interface PendingText {
  bytes: Buffer;
  base64: boolean;
}

/** While stringifyMarked runs: the texts its JSON.stringify met, in order. */
let marked: PendingText[] | null = null;
let markPrefix = '';
/** While stringifyUnsettled runs. */
let unsettled = false;

/**
 * JSON.stringify(value), where each body text still held as bytes is written as
 * `markPrefix + n` (n: its place in `texts`) and left unread: the getter that JSON.stringify
 * calls gives the mark instead of making the string. The caller picks a prefix no text
 * can hold (json-line.ts) and puts the bytes in the marks' places.
 */
export function stringifyMarked(value: unknown, prefix: string): { json: string; texts: PendingText[] } {
  const texts: PendingText[] = [];
  marked = texts;
  markPrefix = prefix;
  try {
    return { json: JSON.stringify(value), texts };
  } finally {
    marked = null;
  }
}

/**
 * JSON.stringify(value), where each body text still held as bytes is made for the JSON
 * and not kept: the record stays as it was. For a caller done with the value once it is
 * serialized (the tap's dissection thread, which stores each entry and drops it).
 * Keeping the text redefines the property and deletes the bytes' key, which leaves the
 * record in dictionary mode, slower to serialize: reading the lazy texts of the benchmark
 * capture's JSON-stored entries was 24 ms of the 0.5 s the tap's dissection thread took.
 */
export function stringifyUnsettled(value: unknown): string {
  unsettled = true;
  try {
    return JSON.stringify(value);
  } finally {
    unsettled = false;
  }
}

/**
 * The `text` accessor of every lazy record: one getter and setter for all, which find the
 * bytes under TEXT_BYTES. (A closure per record gave each record a map of its own: making
 * 13,700 of them took 15 ms and their JSON 6 ms, against 4 and 4 with the shared pair.)
 */
const TEXT_ACCESSOR: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: BodyRecord): string {
    const pending = this[TEXT_BYTES] as PendingText;
    if (marked !== null) return markPrefix + (marked.push(pending) - 1);
    const text = pending.bytes.toString(pending.base64 ? 'base64' : 'utf8');
    if (!unsettled) settle(this, text);
    return text;
  },
  set(this: BodyRecord, v: unknown) {
    settle(this, v);
  },
};

/** Gives `rec` a `text` property that is `bytes` as UTF-8 text (or in base64), made on first read. */
export function lazyText(rec: Record<string, unknown>, bytes: Buffer, base64 = false): void {
  const r = rec as BodyRecord;
  const pending: PendingText = { bytes, base64 };
  Object.defineProperty(r, TEXT_BYTES, { value: pending, enumerable: false, configurable: true, writable: true });
  Object.defineProperty(r, 'text', TEXT_ACCESSOR);
}

/** Makes `text` a plain data property holding `value`, in its place among the keys. */
function settle(r: BodyRecord, value: unknown): void {
  Object.defineProperty(r, 'text', { value, enumerable: true, configurable: true, writable: true });
  delete r[TEXT_BYTES];
}

/** What `rec.text` will be made of, while it has not been read yet (and is still lazyText's). */
export function pendingText(rec: unknown): PendingText | undefined {
  if (rec === null || typeof rec !== 'object') return undefined;
  return (rec as BodyRecord)[TEXT_BYTES] as PendingText | undefined;
}

/** The HTTP body records of an entry (request.postData, response.content) whose text is still bytes. */
export function pendingBodyTexts(entry: { request?: unknown; response?: unknown }): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  for (const [side, key] of BODY_SIDES) {
    const body = field(entry[side], key);
    if (pendingText(body) !== undefined) found.push(body as Record<string, unknown>);
  }
  return found;
}

function field(o: unknown, key: string): unknown {
  return o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined;
}
