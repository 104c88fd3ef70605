/**
 * An HTTP entry's request and response heads as their text.
 *
 * The fields of a record that come from the head (requestHeadFields, responseHeadFields)
 * are what parseHead makes of the head's text, and parseHead depends on nothing but the
 * text and `maxHeaders`. So the store can keep the head instead of those fields' JSON,
 * and read it again (headFieldsOf):
 * - a head is about as long as the JSON of its fields, but written as it is;
 * - the JSON of the heads was over half of the characters of an HTTP entry's stored
 *   skeleton, and the skeletons' JSON.stringify the biggest single cost of the tap's
 *   dissection thread (src/store/README.md "HTTP heads").
 *
 * With ParserSettings.httpHeads (what `tapline tap` sets) the parser keeps the head's text
 * under a symbol of its record, not enumerable: JSON, copies and comparisons never see it.
 * The split stored form (src/store/split-form.ts) writes it in the fields' place. A head
 * whose fields were changed after parsing (trailers merged into its headers) is not kept.
 */
import { parseCookieHeader, parseHead, parseQuery, parseSetCookies, targetAuthority, targetPath, type MessageHead } from './head.js';

const HEAD = Symbol('tapline.httpHead');

/** A head as the parser read it: its text (latin1), the limit it was read with, and whether fields were joined. */
export interface KeptHead {
  text: string;
  maxHeaders: number;
  /** A repeated field or an obs-fold was joined into one value (MessageHead.joined). */
  joined: boolean;
}

/** The fields of a request's record that come from its head, in the record's order. */
export function requestHeadFields(head: MessageHead): Record<string, unknown> {
  const url = head.url;
  return {
    method: head.method,
    url,
    path: targetPath(url),
    host: head.host !== '' ? head.host : targetAuthority(url),
    httpVersion: head.version,
    headers: head.headers,
    queryString: parseQuery(url),
    cookies: parseCookieHeader(head.cookie),
  };
}

/** The fields of a response's record that come from its head, in the record's order. */
export function responseHeadFields(head: MessageHead): Record<string, unknown> {
  return {
    status: head.status,
    statusText: head.statusText,
    httpVersion: head.version,
    headers: head.headers,
    cookies: parseSetCookies(head.setCookies),
  };
}

/**
 * The keys requestHeadFields and responseHeadFields make, by side: what the store leaves
 * out of a record whose head it keeps. Read from the functions themselves, so a field
 * added there is never both in the skeleton and made again from the head.
 */
export const HEAD_KEYS = {
  request: keysOf(requestHeadFields, 'GET / HTTP/1.1\r\n\r\n'),
  response: keysOf(responseHeadFields, 'HTTP/1.1 200 OK\r\n\r\n'),
} as const;

function keysOf(fields: (head: MessageHead) => Record<string, unknown>, head: string): ReadonlySet<string> {
  return new Set(Object.keys(fields(parseHead(head, { maxHeaders: 1 })!)));
}

/**
 * Keeps the head a record's fields were made from beside it (not enumerable). The store
 * writes the head in the fields' place, so those fields must not be changed once it has
 * one: whatever changes records between the parser and the store (nothing does today)
 * must make a new record, which has none.
 */
export function keepHead(record: Record<string, unknown>, head: KeptHead): void {
  Object.defineProperty(record, HEAD, { value: head });
}

/** The head a record's fields were made from, when the parser kept it. */
export function headOf(record: unknown): KeptHead | undefined {
  return record !== null && typeof record === 'object' ? ((record as Record<symbol, unknown>)[HEAD] as KeptHead | undefined) : undefined;
}

/**
 * The texts of a record's head fields that are not in the head's text as they are: joined
 * values of a repeated field or of an obs-fold, and decoded parts of the query. The store
 * writes them beside the head, where a text search of the stored bytes (storedFormHas)
 * finds what it would have found in the fields' JSON. Every other text of those fields is
 * a piece of the head (the method, target, path, host, names, trimmed values, cookies).
 * Returns `out`, made when there is a first text to add.
 */
export function headTexts(record: Record<string, unknown>, kept: KeptHead, out: string[] | undefined): string[] | undefined {
  const text = kept.text;
  if (kept.joined) {
    const headers = record.headers as Record<string, string>;
    for (const k in headers) {
      const v = headers[k]!;
      if (!text.includes(v)) (out ??= []).push(v);
    }
  }
  const url = record.url;
  if (typeof url === 'string' && (url.includes('%') || url.includes('+'))) {
    const query = record.queryString as Record<string, string | string[]>;
    for (const k in query) {
      if (!text.includes(k)) (out ??= []).push(k);
      const v = query[k]!;
      for (const s of typeof v === 'string' ? [v] : v) if (!text.includes(s)) (out ??= []).push(s);
    }
  }
  return out;
}

/** Bytes before the text in a written head: u32 maxHeaders (little-endian). */
export const HEAD_HEADER_BYTES = 4;

/** Bytes writeHead writes for `head`. */
export const headBytes = (head: KeptHead): number => HEAD_HEADER_BYTES + head.text.length;

/** Writes `head` at `offset` of `b` (headBytes free there); returns the bytes written. */
export function writeHead(head: KeptHead, b: Buffer, offset: number): number {
  b.writeUInt32LE(head.maxHeaders, offset);
  return HEAD_HEADER_BYTES + b.write(head.text, offset + HEAD_HEADER_BYTES, 'latin1');
}

/**
 * The head fields of the head written at b[start, end) (writeHead), for a request or a
 * response. Undefined when the bytes are too short to hold the limit, or are not a head
 * of that side.
 */
export function headFieldsOf(b: Buffer, start: number, end: number, side: 'request' | 'response'): Record<string, unknown> | undefined {
  if (end - start < HEAD_HEADER_BYTES) return undefined;
  const head = parseHead(b.toString('latin1', start + HEAD_HEADER_BYTES, end), { maxHeaders: b.readUInt32LE(start) });
  if (head === null || head.isRequest !== (side === 'request')) return undefined;
  return side === 'request' ? requestHeadFields(head) : responseHeadFields(head);
}
