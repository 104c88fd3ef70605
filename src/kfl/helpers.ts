/**
 * Runtime helpers the compiled match function calls. They never throw on any JSON value
 * (a missing field, a wrong type or a list where a scalar was expected is just "no match"),
 * and they allocate nothing on the common paths.
 *
 * Semantics (README.md "Semantics" documents each rule with an example):
 *  - a missing field, or a step into something that is not an object, is `null`;
 *  - `==` on a list and a scalar is true when any element is `==` the scalar;
 *  - a number equals a numeric string with the same value (`500 == "500"`);
 *  - ordering compares numerically when both sides are numbers or numeric strings,
 *    lexicographically when both are other strings, and is false otherwise;
 *  - keys under a `headers` map are looked up case-insensitively.
 */

const hasOwn = Object.prototype.hasOwnProperty;

/** `o[k]` when `o` is a non-list object that owns `k`; otherwise null. Never reads the prototype chain. */
export function get(o: unknown, k: string): unknown {
  if (o === null || typeof o !== 'object' || Array.isArray(o) || !hasOwn.call(o, k)) return null;
  const v = (o as Record<string, unknown>)[k];
  return v === undefined ? null : v;
}

/** `o[i]`: the element of a list, or the key "i" of an object. */
export function index(o: unknown, i: number, key: string): unknown {
  if (o === null || typeof o !== 'object') return null;
  if (Array.isArray(o)) {
    const v = i >= 0 && i < o.length ? o[i] : undefined;
    return v === undefined ? null : v;
  }
  if (!hasOwn.call(o, key)) return null;
  const v = (o as Record<string, unknown>)[key];
  return v === undefined ? null : v;
}

/** A header by name: the exact key first (the common case), then a case-insensitive scan. */
export function header(o: unknown, k: string, lower: string): unknown {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return null;
  const rec = o as Record<string, unknown>;
  if (hasOwn.call(rec, k)) {
    const v = rec[k];
    return v === undefined ? null : v;
  }
  const len = lower.length;
  for (const name in rec) {
    if (name.length === len && hasOwn.call(rec, name) && sameIgnoringAsciiCase(name, lower)) {
      const v = rec[name];
      return v === undefined ? null : v;
    }
  }
  return null;
}

/** `a` and `lower` (already lower-case) are equal ignoring ASCII case (header names are ASCII, RFC 9110 §5.1). */
function sameIgnoringAsciiCase(a: string, lower: string): boolean {
  for (let i = 0; i < a.length; i++) {
    let c = a.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

const NUMERIC = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** The number a numeric string spells, or NaN (`"42"` → 42, `"4x"` → NaN, `""` → NaN). */
export function numericValue(s: string): number {
  return NUMERIC.test(s) ? Number(s) : NaN;
}

/** Number of a value for ordering and arithmetic: numbers and numeric strings; NaN for the rest. */
function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return numericValue(v);
  return NaN;
}

/** `a == s` for a string constant `s` (`sNum` is its numeric value or NaN). */
export function eqStr(a: unknown, s: string, sNum: number): boolean {
  if (a === s) return true;
  if (a === null || typeof a === 'string') return false;
  if (typeof a === 'number') return a === sNum;
  if (typeof a === 'boolean') return String(a) === s;
  if (Array.isArray(a)) {
    for (let i = 0; i < a.length; i++) if (eqStr(a[i], s, sNum)) return true;
  }
  return false;
}

/** `a == n` for a number constant `n`. */
export function eqNum(a: unknown, n: number): boolean {
  if (a === n) return true;
  if (a === null || typeof a === 'number') return false;
  if (typeof a === 'string') return numericValue(a) === n;
  if (Array.isArray(a)) {
    for (let i = 0; i < a.length; i++) if (eqNum(a[i], n)) return true;
  }
  return false;
}

/** `a == b` for a boolean constant. */
export function eqBool(a: unknown, b: boolean): boolean {
  if (a === b) return true;
  if (typeof a === 'string') return a === String(b);
  if (Array.isArray(a)) {
    for (let i = 0; i < a.length; i++) if (eqBool(a[i], b)) return true;
  }
  return false;
}

/** `a == b` when neither side is known when compiling. */
export function eq(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  if (Array.isArray(b)) {
    if (Array.isArray(a)) return listsEqual(a, b);
    const t = a;
    a = b;
    b = t;
  }
  if (typeof b === 'string') return eqStr(a, b, numericValue(b));
  if (typeof b === 'number') return eqNum(a, b);
  if (typeof b === 'boolean') return eqBool(a, b);
  return false;
}

function listsEqual(a: unknown[], b: unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!eq(a[i], b[i])) return false;
  return true;
}

/** `a == r"…"`: the regex finds a match in the string form of `a` (a number's digits); never on null. */
export function rx(a: unknown, re: RegExp): boolean {
  if (typeof a === 'string') return re.test(a);
  if (typeof a === 'number' || typeof a === 'boolean') return re.test(String(a));
  if (Array.isArray(a)) {
    for (let i = 0; i < a.length; i++) if (rx(a[i], re)) return true;
  }
  return false;
}

/** -1, 0, 1, or NaN when the two cannot be ordered. */
function order(a: unknown, b: unknown): number {
  const x = toNumber(a);
  const y = toNumber(b);
  if (x === x && y === y) return x < y ? -1 : x > y ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return NaN;
}

/** The ordering operators, as small numbers the generated code passes by value. */
export const Ord = { Lt: 0, Le: 1, Gt: 2, Ge: 3 } as const;
export type Ord = (typeof Ord)[keyof typeof Ord];

/** `a <op> b`; with a list on either side, true when any element satisfies it. */
export function cmp(a: unknown, b: unknown, op: Ord): boolean {
  if (Array.isArray(a)) {
    for (let i = 0; i < a.length; i++) if (cmp(a[i], b, op)) return true;
    return false;
  }
  if (Array.isArray(b)) {
    for (let i = 0; i < b.length; i++) if (cmp(a, b[i], op)) return true;
    return false;
  }
  const o = order(a, b);
  switch (op) {
    case Ord.Lt:
      return o < 0;
    case Ord.Le:
      return o <= 0;
    case Ord.Gt:
      return o > 0;
    default:
      return o >= 0;
  }
}

/** `a >= n` etc. against a number constant: the hot path of `response.status >= 500`. */
export function cmpNum(a: unknown, n: number, op: Ord): boolean {
  let x: number;
  if (typeof a === 'number') x = a;
  else if (typeof a === 'string') x = numericValue(a);
  else if (Array.isArray(a)) {
    for (let i = 0; i < a.length; i++) if (cmpNum(a[i], n, op)) return true;
    return false;
  } else return false;
  switch (op) {
    case Ord.Lt:
      return x < n;
    case Ord.Le:
      return x <= n;
    case Ord.Gt:
      return x > n;
    default:
      return x >= n;
  }
}

/** The text methods see: strings as they are, numbers and booleans spelled out, nothing else. */
function textOf(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

export function startsWith(a: unknown, s: unknown): boolean {
  if (Array.isArray(a)) {
    for (let i = 0; i < a.length; i++) if (startsWith(a[i], s)) return true;
    return false;
  }
  const t = textOf(a);
  const p = textOf(s);
  return t !== null && p !== null && t.startsWith(p);
}

export function endsWith(a: unknown, s: unknown): boolean {
  if (Array.isArray(a)) {
    for (let i = 0; i < a.length; i++) if (endsWith(a[i], s)) return true;
    return false;
  }
  const t = textOf(a);
  const p = textOf(s);
  return t !== null && p !== null && t.endsWith(p);
}

/** A substring of a string; on a list, an element that is `==` the argument. */
export function contains(a: unknown, s: unknown): boolean {
  if (Array.isArray(a)) {
    for (let i = 0; i < a.length; i++) if (eq(a[i], s)) return true;
    return false;
  }
  const t = textOf(a);
  const p = textOf(s);
  return t !== null && p !== null && t.includes(p);
}

/** Characters of a string, elements of a list, keys of an object; null otherwise. */
export function size(a: unknown): number | null {
  if (typeof a === 'string' || Array.isArray(a)) return a.length;
  if (a !== null && typeof a === 'object') {
    let n = 0;
    for (const k in a) if (hasOwn.call(a, k)) n++;
    return n;
  }
  return null;
}

export function add(a: unknown, b: unknown): number | null {
  const r = toNumber(a) + toNumber(b);
  return r === r ? r : null;
}

export function sub(a: unknown, b: unknown): number | null {
  const r = toNumber(a) - toNumber(b);
  return r === r ? r : null;
}

export function neg(a: unknown): number | null {
  const r = -toNumber(a);
  return r === r ? r : null;
}

/** One `json()` call site's memory: the last (entry, text) it parsed and the result. */
export interface JsonSlot {
  entry: unknown;
  text: unknown;
  value: unknown;
}

export function createJsonSlot(): JsonSlot {
  return { entry: undefined, text: undefined, value: null };
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Parses a body and keeps walking. Text that is not JSON is tried as base64 of JSON
 * (Kubeshark v1 stored bodies base64-encoded). Anything unparsable is null. The parse
 * is kept per call site for the entry it came from, so `a.json().x and a.json().y`
 * parses once, and so does evaluating the same entry again.
 */
export function json(slot: JsonSlot, entry: unknown, text: unknown): unknown {
  if (slot.entry === entry && slot.text === text) return slot.value;
  let value: unknown = null;
  if (typeof text === 'string') value = parseJsonOrBase64(text);
  else if (text !== null && typeof text === 'object') value = text; // already structured: keep walking
  slot.entry = entry;
  slot.text = text;
  slot.value = value;
  return value;
}

/**
 * `text.json().key`: json() then get(), but without parsing a text that cannot have the key.
 * A JSON object whose text holds neither `"key"` (`quoted`) nor any backslash (so no
 * escape could spell the key) has no member `key`; its text is not base64 either (`{` is
 * not in that alphabet). Bodies are mostly large and mostly lack the key asked for, so this
 * replaces a full parse by two substring scans. The compiler uses it only for keys without
 * `"`, `\` or control characters, which JSON writes as they are.
 */
export function jsonGet(slot: JsonSlot, entry: unknown, text: unknown, key: string, quoted: string): unknown {
  if (typeof text === 'string' && !(slot.entry === entry && slot.text === text) && opensObject(text) && !text.includes(quoted) && !text.includes('\\')) {
    return null;
  }
  return get(json(slot, entry, text), key);
}

/** The first character after JSON whitespace (RFC 8259: space, tab, LF, CR) is `{`. */
function opensObject(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b) return true;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return false;
}

/** A key JSON text spells only as itself: no quote, backslash or control character (RFC 8259 §7). */
export function isPlainJsonKey(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** Value of a base64 digit (RFC 4648 §4), or -1. */
function base64Digit(c: number): number {
  if (c >= 65 && c <= 90) return c - 65;
  if (c >= 97 && c <= 122) return c - 71;
  if (c >= 48 && c <= 57) return c + 4;
  if (c === 43) return 62;
  if (c === 47) return 63;
  return -1;
}

/**
 * Whether base64 `text` may decode to JSON, from its first byte alone (the first two
 * digits): JSON text starts with whitespace or the first character of a value (RFC 8259
 * §2, §3). Binary bodies, which Tapline stores as base64, are turned away here instead of
 * being decoded in full.
 */
function base64MayBeJson(text: string): boolean {
  const a = base64Digit(text.charCodeAt(0));
  const b = base64Digit(text.charCodeAt(1));
  if (a < 0 || b < 0) return false;
  return mayStartJson((a << 2) | (b >> 4));
}

/** JSON text starts with whitespace or the first character of a value (RFC 8259 §2, §3). */
function mayStartJson(c: number): boolean {
  return (
    c === 0x7b || c === 0x5b || c === 0x22 || c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e ||
    c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
  );
}

function parseJsonOrBase64(text: string): unknown {
  // HTML, empty and other text would only throw (and an exception costs a stack trace).
  if (mayStartJson(text.charCodeAt(0))) {
    try {
      return JSON.parse(text);
    } catch {
      // not JSON as it stands
    }
  }
  if (text.length % 4 === 0 && base64MayBeJson(text) && BASE64.test(text)) {
    try {
      return JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
    } catch {
      // not base64 of JSON either
    }
  }
  return null;
}

/** What redact() writes over a value. */
export const REDACTED = '[REDACTED]';

/**
 * A copy of `entry` with each path's value replaced by REDACTED. Only the objects along a
 * redacted path are copied; the rest is shared with the input, which is never modified.
 * Keys under `headers` match case-insensitively, as in queries; missing paths are skipped.
 */
export function redactEntry<T>(entry: T, paths: readonly (readonly string[])[]): T {
  let out: unknown = entry;
  for (const path of paths) out = redactPath(out, path, 0, '');
  return out as T;
}

function redactPath(node: unknown, path: readonly string[], at: number, parentKey: string): unknown {
  if (node === null || typeof node !== 'object') return node;
  const key = path[at];
  let own: string | number | undefined;
  if (Array.isArray(node)) {
    const i = Number(key);
    if (Number.isInteger(i) && i >= 0 && i < node.length) own = i;
  } else if (hasOwn.call(node, key)) {
    own = key;
  } else if (parentKey === 'headers') {
    const lower = key.toLowerCase();
    for (const name in node) if (hasOwn.call(node, name) && name.toLowerCase() === lower) own = name;
  }
  if (own === undefined) return node;
  const rec = node as Record<string | number, unknown>;
  const replaced = at === path.length - 1 ? REDACTED : redactPath(rec[own], path, at + 1, String(own));
  if (replaced === rec[own]) return node;
  const copy = (Array.isArray(node) ? node.slice() : { ...rec }) as Record<string | number, unknown>;
  if (!Array.isArray(node) && own === '__proto__') {
    Object.defineProperty(copy, own, { value: replaced, enumerable: true, writable: true, configurable: true });
  } else {
    copy[own] = replaced;
  }
  return copy;
}
