/**
 * Recognises an HTTP/1.x start line at an offset of a buffer, without allocating:
 * used by the probe (first bytes of a direction) and by the parser (message starts
 * and resynchronisation after a gap).
 */

export const LINE_NO = 0;
export const LINE_MORE = 1;
export const LINE_REQUEST = 2;
export const LINE_RESPONSE = 3;
export type LineKind = typeof LINE_NO | typeof LINE_MORE | typeof LINE_REQUEST | typeof LINE_RESPONSE;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;

/** Methods of RFC 9110, RFC 5789 (PATCH) and the WebDAV family seen in the wild. */
export const KNOWN_METHODS: readonly string[] = [
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH',
  'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'REPORT', 'SEARCH',
  'MKACTIVITY', 'CHECKOUT', 'MERGE', 'PURGE', 'LINK', 'UNLINK', 'BIND', 'REBIND', 'UNBIND',
  'ACL', 'MKCALENDAR', 'SUBSCRIBE', 'UNSUBSCRIBE', 'NOTIFY', 'MSEARCH', 'M-SEARCH', 'QUERY',
];
const MAX_METHOD = 16;

const knownMethod = new Set(KNOWN_METHODS);
const methodPrefix = new Set<string>();
for (const m of KNOWN_METHODS) for (let i = 1; i <= m.length; i++) methodPrefix.add(m.slice(0, i));

/** RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
export const TCHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** `HTTP/1.` DIGIT at buf[i..i+8): 1 = yes, 0 = no, -1 = too few bytes (and consistent so far). */
function version1(buf: Buffer, i: number, end: number): number {
  const want = 'HTTP/1.';
  for (let k = 0; k < 7; k++) {
    if (i + k >= end) return -1;
    if (buf[i + k] !== want.charCodeAt(k)) return 0;
  }
  if (i + 7 >= end) return -1;
  return isDigit(buf[i + 7]) ? 1 : 0;
}

/**
 * What starts at buf[off]: a request line, a status line, not HTTP/1.x, or too few bytes
 * to tell. `knownMethodsOnly` makes the request check strict (the probe); the parser takes
 * any token as method (RFC 9112 3.1: "method = token").
 */
export function classifyStartLine(buf: Buffer, off: number, end: number, knownMethodsOnly: boolean): LineKind {
  if (off >= end) return LINE_MORE;
  if (buf[off] === 0x48 /* H */) {
    // RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
    const v = version1(buf, off, end);
    if (v === 1) {
      let i = off + 8;
      if (i >= end) return LINE_MORE;
      if (buf[i] !== SP) return LINE_NO;
      for (let k = 1; k <= 3; k++) {
        if (i + k >= end) return LINE_MORE;
        if (!isDigit(buf[i + k])) return LINE_NO;
      }
      i += 4;
      if (i >= end) return LINE_MORE;
      const c = buf[i];
      return c === SP || c === CR || c === LF ? LINE_RESPONSE : LINE_NO;
    }
    if (v === -1) {
      // "HTTP/1" so far; it may still be a method starting with H (HEAD).
      const r = requestLine(buf, off, end, knownMethodsOnly);
      return r === LINE_NO ? LINE_MORE : r;
    }
  }
  return requestLine(buf, off, end, knownMethodsOnly);
}

// RFC 9112 3: request-line = method SP request-target SP HTTP-version
function requestLine(buf: Buffer, off: number, end: number, knownMethodsOnly: boolean): LineKind {
  let i = off;
  while (i < end && buf[i] !== SP) {
    if (TCHAR[buf[i]] === 0 || i - off >= MAX_METHOD) return LINE_NO;
    i++;
  }
  if (knownMethodsOnly) {
    const m = buf.toString('latin1', off, i);
    if (i >= end) return methodPrefix.has(m) ? LINE_MORE : LINE_NO;
    if (!knownMethod.has(m)) return LINE_NO;
  } else if (i >= end) return LINE_MORE;
  if (i === off) return LINE_NO;
  i++; // SP
  const targetStart = i;
  // The target: visible bytes (non-ASCII taken, as clients send raw UTF-8 in the wild).
  while (i < end && buf[i] > SP && buf[i] !== 0x7f) i++;
  if (i >= end) return LINE_MORE;
  if (i === targetStart || buf[i] !== SP) return LINE_NO;
  const v = version1(buf, i + 1, end);
  if (v === 0) return LINE_NO;
  if (v === -1) return LINE_MORE;
  i += 9;
  if (i >= end) return LINE_MORE;
  if (buf[i] === LF) return LINE_REQUEST;
  if (buf[i] !== CR) return LINE_NO;
  if (i + 1 >= end) return LINE_MORE;
  return buf[i + 1] === LF ? LINE_REQUEST : LINE_NO;
}
