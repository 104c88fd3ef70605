/**
 * The head of one HTTP/1.x message (start line and header section) taken apart: the
 * fields an entry shows and the few that frame the body. Header text is latin1 (RFC 9110
 * 5.5: field values are "historically ... ISO-8859-1"), so every byte survives.
 */
import { TCHAR } from './start-line.js';

export interface MessageHead {
  isRequest: boolean;
  method: string;
  url: string;
  status: number;
  statusText: string;
  /** `1.1` or `1.0`. */
  version: string;
  /** Names as sent; a repeated field (any case) joined with `, ` under its first spelling. */
  headers: Record<string, string>;
  /** -1: no Content-Length; -2: an invalid one. */
  contentLength: number;
  /** A Transfer-Encoding field was present. */
  transferEncoding: boolean;
  /** Transfer-Encoding's final coding is chunked. */
  chunked: boolean;
  connectionClose: boolean;
  connectionKeepAlive: boolean;
  /** An Upgrade field together with the `upgrade` connection option. */
  upgrade: boolean;
  contentType: string;
  contentEncoding: string;
  host: string;
  cookie: string;
  setCookies: string[] | null;
  issues: string[] | null;
  /** The text the fields were read from (kept-head.ts keeps it for the store). */
  text: string;
  /** A repeated field or an obs-fold was joined into one value, which the text then does not hold as it is. */
  joined: boolean;
}

export interface HeadLimits {
  maxHeaders: number;
}

/** Adds an issue code once to a list that is only allocated when needed. */
export function addIssue(list: string[] | null, code: string): string[] {
  if (list === null) return [code];
  if (!list.includes(code)) list.push(code);
  return list;
}

/** Sets a key on a plain record, even `__proto__`, without touching the prototype. */
export function setKey<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

function trimOws(s: string): string {
  // RFC 9110 5.5: "a field value does not include leading or trailing whitespace"
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TCHAR[c] === 0) return false;
  }
  return true;
}

/** The Connection options this parser acts on (RFC 9110 7.6.1: a comma-separated list, case-insensitive). */
function connectionOptions(value: string, head: MessageHead): boolean {
  let upgrade = false;
  for (const part of value.split(',')) {
    const option = trimOws(part).toLowerCase();
    if (option === 'close') head.connectionClose = true;
    else if (option === 'keep-alive') head.connectionKeepAlive = true;
    else if (option === 'upgrade') upgrade = true;
  }
  return upgrade;
}

/**
 * Field names seen (tokens), as first seen and in lower case: a few dozen names make nearly
 * every head, and a name found here needs neither the token check nor toLowerCase
 * (parseHead 1.52 → 1.35 µs on the benchmark capture's heads), and the name stored is the
 * string kept here, which V8 made a property key once, not the fresh slice of the head it
 * would look up as a key again (setKey 11 → 4 ms on the benchmark capture). Bounded in
 * count and name length: traffic that invents names only empties it.
 */
const LOWER = new Map<string, { name: string; lower: string }>();
const LOWER_MAX_NAMES = 1024;
const LOWER_MAX_NAME = 64;

/**
 * Parses a head given as latin1 text holding whole lines (the final empty line may be
 * missing when the head was cut at the header limit). Returns null when the start line is
 * not HTTP/1.x.
 */
export function parseHead(text: string, limits: HeadLimits): MessageHead | null {
  let lineEnd = text.indexOf('\n');
  if (lineEnd === -1) lineEnd = text.length;
  const startLine = text.charCodeAt(lineEnd - 1) === 0x0d ? text.slice(0, lineEnd - 1) : text.slice(0, lineEnd);

  const head: MessageHead = {
    isRequest: true,
    method: '',
    url: '',
    status: 0,
    statusText: '',
    version: '',
    headers: {},
    contentLength: -1,
    transferEncoding: false,
    chunked: false,
    connectionClose: false,
    connectionKeepAlive: false,
    upgrade: false,
    contentType: '',
    contentEncoding: '',
    host: '',
    cookie: '',
    setCookies: null,
    issues: null,
    text,
    joined: false,
  };
  if (!parseStartLine(startLine, head)) return null;

  const spelling = new Map<string, string>();
  let stored = 0;
  let last = ''; // spelling of the last stored field, for obs-fold
  let upgradeField = false;
  let connectionUpgrade = false;
  let pos = lineEnd + 1;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl === -1) nl = text.length;
    const end = text.charCodeAt(nl - 1) === 0x0d ? nl - 1 : nl;
    const lineStart = pos;
    pos = nl + 1;
    if (end <= lineStart) break; // the empty line ending the header section
    const first = text.charCodeAt(lineStart);
    if (first === 0x20 || first === 0x09) {
      // RFC 9112 5.2: "A user agent that receives an obs-fold in a response message ...
      // MUST replace each received obs-fold with one or more SP octets prior to
      // interpreting the field value."
      head.issues = addIssue(head.issues, 'http.obs_fold');
      if (last !== '') {
        head.headers[last] = head.headers[last] + ' ' + trimOws(text.slice(lineStart, end));
        head.joined = true;
      }
      continue;
    }
    const colon = text.indexOf(':', lineStart);
    if (colon === -1 || colon >= end) {
      head.issues = addIssue(head.issues, 'http.bad_header_line');
      continue;
    }
    let name = text.slice(lineStart, colon);
    let framing = true;
    const seen = LOWER.get(name);
    let lower: string | undefined;
    if (seen !== undefined) {
      name = seen.name;
      lower = seen.lower;
    } else if (!isToken(name)) {
      const trimmed = trimOws(name);
      if (!isToken(trimmed)) {
        head.issues = addIssue(head.issues, 'http.bad_header_line');
        continue;
      }
      // RFC 9112 5.1: "No whitespace is allowed between the field name and colon. ... A
      // server MUST reject, with a response status code of 400 (Bad Request), any
      // received request message that contains whitespace between a header field name
      // and colon." Kept for display, never used to frame the body (request smuggling).
      head.issues = addIssue(head.issues, 'http.space_before_colon');
      name = trimmed;
      framing = false;
    }
    const value = trimOws(text.slice(colon + 1, end));
    if (lower === undefined) {
      lower = name.toLowerCase();
      if (framing && name.length <= LOWER_MAX_NAME) {
        if (LOWER.size >= LOWER_MAX_NAMES) LOWER.clear();
        LOWER.set(name, { name, lower });
      }
    }
    const known = spelling.get(lower);
    if (known !== undefined) {
      // RFC 9110 5.3: "A recipient MAY combine multiple field lines within a field section
      // that have the same field name into one field line ... by appending each subsequent
      // field line value to the initial field line value in order, separated by a comma".
      head.headers[known] = head.headers[known] + ', ' + value;
      head.joined = true;
      last = known;
    } else if (stored < limits.maxHeaders) {
      spelling.set(lower, name);
      setKey(head.headers, name, value);
      stored++;
      last = name;
    } else {
      head.issues = addIssue(head.issues, 'http.too_many_headers');
      last = '';
    }
    if (!framing) continue;
    switch (lower) {
      case 'content-length':
        head.contentLength = mergeContentLength(head.contentLength, value);
        break;
      case 'transfer-encoding':
        head.transferEncoding = true;
        head.chunked = finalCodingIsChunked(value);
        break;
      case 'connection':
        if (connectionOptions(value, head)) connectionUpgrade = true;
        break;
      case 'upgrade':
        upgradeField = true;
        break;
      case 'content-type':
        if (head.contentType === '') head.contentType = value;
        break;
      case 'content-encoding':
        head.contentEncoding = head.contentEncoding === '' ? value : head.contentEncoding + ', ' + value;
        break;
      case 'host':
        if (head.host === '') head.host = value;
        break;
      case 'cookie':
        head.cookie = head.cookie === '' ? value : head.cookie + '; ' + value;
        break;
      case 'set-cookie':
        (head.setCookies ??= []).push(value);
        break;
    }
  }
  head.upgrade = upgradeField && connectionUpgrade;
  return head;
}

function parseStartLine(line: string, head: MessageHead): boolean {
  if (line.startsWith('HTTP/')) {
    // RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
    if (line.length < 12 || line.charCodeAt(5) !== 0x31 || line.charCodeAt(6) !== 0x2e || line.charCodeAt(8) !== 0x20) return false;
    const minor = line.charCodeAt(7) - 0x30;
    if (minor < 0 || minor > 9) return false;
    let status = 0;
    for (let i = 9; i < 12; i++) {
      const d = line.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) return false;
      status = status * 10 + d;
    }
    if (line.length > 12 && line.charCodeAt(12) !== 0x20) return false;
    head.isRequest = false;
    head.version = '1.' + minor;
    head.status = status;
    head.statusText = line.length > 13 ? line.slice(13) : '';
    return true;
  }
  // RFC 9112 3: request-line = method SP request-target SP HTTP-version
  const sp1 = line.indexOf(' ');
  const sp2 = line.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 <= sp1 + 1 || line.length !== sp2 + 9) return false;
  const method = line.slice(0, sp1);
  if (!isToken(method)) return false;
  if (!line.startsWith('HTTP/1.', sp2 + 1)) return false;
  const minor = line.charCodeAt(sp2 + 8) - 0x30;
  if (minor < 0 || minor > 9) return false;
  const url = line.slice(sp1 + 1, sp2);
  if (url.includes(' ')) return false;
  head.method = method;
  head.url = url;
  head.version = '1.' + minor;
  return true;
}

/**
 * RFC 9112 6.3: "If a message is received without Transfer-Encoding and with an invalid
 * Content-Length header field, then the message framing is invalid". A list of identical
 * values ("42, 42") is valid (RFC 9110 8.6).
 */
function mergeContentLength(current: number, value: string): number {
  if (current === -2) return -2;
  let result = current;
  for (const part of value.split(',')) {
    const s = trimOws(part);
    if (s.length === 0 || s.length > 15) return -2;
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const d = s.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) return -2;
      n = n * 10 + d;
    }
    if (result !== -1 && result !== n) return -2;
    result = n;
  }
  return result;
}

function finalCodingIsChunked(value: string): boolean {
  const comma = value.lastIndexOf(',');
  let last = trimOws(comma === -1 ? value : value.slice(comma + 1));
  const semi = last.indexOf(';');
  if (semi !== -1) last = trimOws(last.slice(0, semi));
  return last.toLowerCase() === 'chunked';
}

const plusRe = /\+/g;

function decodeQueryPart(s: string): string {
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s;
  const spaced = s.replace(plusRe, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced; // a malformed escape is shown as sent
  }
}

/**
 * The query of a request target, URL-decoded; a name given more than once maps to the
 * array of its values in order (KFL compares a list with a scalar as "any element").
 */
export function parseQuery(url: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const q = url.indexOf('?');
  if (q === -1) return out;
  let end = url.indexOf('#', q);
  if (end === -1) end = url.length;
  let pos = q + 1;
  while (pos < end) {
    let amp = url.indexOf('&', pos);
    if (amp === -1 || amp > end) amp = end;
    if (amp > pos) {
      const eq = url.indexOf('=', pos);
      const hasEq = eq !== -1 && eq < amp;
      const name = decodeQueryPart(url.slice(pos, hasEq ? eq : amp));
      const value = hasEq ? decodeQueryPart(url.slice(eq + 1, amp)) : '';
      const prev = Object.prototype.hasOwnProperty.call(out, name) ? out[name] : undefined;
      if (prev === undefined) setKey(out, name, value);
      else if (Array.isArray(prev)) prev.push(value);
      else setKey(out, name, [prev, value]);
    }
    pos = amp + 1;
  }
  return out;
}

/** RFC 6265 4.2.1: cookie-string = cookie-pair *( ";" SP cookie-pair ). */
export function parseCookieHeader(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === '') return out;
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = trimOws(part.slice(0, eq));
    if (name !== '') setKey(out, name, trimOws(part.slice(eq + 1)));
  }
  return out;
}

/** RFC 6265 4.1.1: set-cookie-string = cookie-pair *( ";" SP cookie-av ); only the pair is kept. */
export function parseSetCookies(values: string[] | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (values === null) return out;
  for (const v of values) {
    const semi = v.indexOf(';');
    const pair = semi === -1 ? v : v.slice(0, semi);
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const name = trimOws(pair.slice(0, eq));
    if (name !== '') setKey(out, name, trimOws(pair.slice(eq + 1)));
  }
  return out;
}

/**
 * The path of a request target without its query: origin-form as is, absolute-form
 * without scheme and authority, authority-form (CONNECT) and `*` unchanged.
 */
export function targetPath(url: string): string {
  let start = 0;
  if (url.charCodeAt(0) !== 0x2f /* / */) {
    const scheme = url.indexOf('://');
    if (scheme === -1) return url;
    const slash = url.indexOf('/', scheme + 3);
    if (slash === -1) return '/';
    start = slash;
  }
  let end = url.length;
  const q = url.indexOf('?', start);
  if (q !== -1) end = q;
  const h = url.indexOf('#', start);
  if (h !== -1 && h < end) end = h;
  return start === 0 && end === url.length ? url : url.slice(start, end);
}

/** The authority of an absolute-form target (`http://host:8080/x` → `host:8080`), or ''. */
export function targetAuthority(url: string): string {
  const scheme = url.indexOf('://');
  if (scheme === -1 || url.charCodeAt(0) === 0x2f) return '';
  const slash = url.indexOf('/', scheme + 3);
  return url.slice(scheme + 3, slash === -1 ? url.length : slash);
}
