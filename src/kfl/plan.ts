import { pathOf, type Expr } from './ast.js';
import { fold } from './compiler.js';
import { eqNum, eqStr, get, numericValue } from './helpers.js';
import { macroProtocol } from './macros.js';

/**
 * What a store's indexes can answer before the match function runs. Every field is a
 * NECESSARY condition: an entry the query matches is always admitted (planAdmits), so
 * the store may skip any entry the plan does not admit. An absent field says nothing.
 */
export interface PushDownPlan {
  /** ms since the epoch, inclusive: `timestamp` ≥ timeFrom. */
  timeFrom?: number;
  /** ms since the epoch, inclusive: `timestamp` ≤ timeTo. */
  timeTo?: number;
  /** `protocol.name` is one of these. */
  protocols?: string[];
  /** `src.ip` or `dst.ip` is one of these. */
  ips?: string[];
  /** `src.port` or `dst.port` is one of these. */
  ports?: number[];
  /** `src.namespace` or `dst.namespace` is one of these. */
  namespaces?: string[];
  /** `response.status` lies in [min, max], inclusive. */
  statusRange?: [number, number];
  /**
   * Each of these appears, byte for byte, in the entry's stored form: JSON text, the
   * split form's UTF-8 JSON, or V8's serialization in older stores (as one-byte text or
   * UTF-16LE: see storedFormHas). Taken from `==`,
   * `contains`, `startsWith` and `endsWith` of a string literal on a field no index
   * answers, when nothing else could match it (textLiteral). A store can skip a row
   * without parsing it.
   */
  texts?: string[];
}

const LOW = Number.MIN_SAFE_INTEGER;
const HIGH = Number.MAX_SAFE_INTEGER;

/** The plan as the derivation builds it: absent means unconstrained. */
interface Constraint {
  time?: [number, number];
  protocols?: Set<string>;
  ips?: Set<string>;
  ports?: Set<number>;
  namespaces?: Set<string>;
  status?: [number, number];
  texts?: Set<string>;
}

/**
 * Derives the plan of a predicate. Top-level `and` narrows (each conjunct must hold);
 * `or` narrows only a field that every alternative narrows (their union); `not` and
 * anything else narrow nothing. Bounds that use now() only ever become lower bounds,
 * since the clock moves on between planning and matching.
 */
export function derivePlan(predicate: Expr | null, now: number): PushDownPlan {
  const c = predicate ? derive(predicate, now) : {};
  const plan: PushDownPlan = {};
  if (c.time) {
    if (c.time[0] > LOW) plan.timeFrom = c.time[0];
    if (c.time[1] < HIGH) plan.timeTo = c.time[1];
  }
  if (c.protocols) plan.protocols = [...c.protocols].sort();
  if (c.ips) plan.ips = [...c.ips].sort();
  if (c.ports) plan.ports = [...c.ports].sort((a, b) => a - b);
  if (c.namespaces) plan.namespaces = [...c.namespaces].sort();
  if (c.status) plan.statusRange = [c.status[0], c.status[1]];
  if (c.texts && c.texts.size > 0) plan.texts = [...c.texts].sort();
  return plan;
}

function derive(e: Expr, now: number): Constraint {
  switch (e.kind) {
    case 'and':
      return e.operands.map((o) => derive(o, now)).reduce(both);
    case 'or':
      return e.operands.map((o) => derive(o, now)).reduce(either);
    case 'macro': {
      if (!e.builtin) return derive(e.expansion, now);
      const p = macroProtocol(e.name);
      return p ? { protocols: new Set([p]) } : {};
    }
    case 'binary':
      return comparison(e.op, e.left, e.right, now) ?? comparison(mirror(e.op), e.right, e.left, now) ?? {};
    case 'method': {
      // contains/startsWith/endsWith hold only when the argument is inside the field's text.
      if (e.name !== 'contains' && e.name !== 'startsWith' && e.name !== 'endsWith') return {};
      const keys = pathOf(e.object);
      const arg = e.args[0];
      const t = keys && arg?.kind === 'literal' ? textLiteral(keys, arg.value) : undefined;
      return t !== undefined ? { texts: new Set([t]) } : {};
    }
    default:
      return {};
  }
}

/** Fields an index answers (comparison() narrows them): a text prefilter adds nothing there. */
const INDEXED = new Set(['protocol.name', 'src.ip', 'dst.ip', 'src.port', 'dst.port', 'src.namespace', 'dst.namespace', 'response.status', 'timestamp']);

/**
 * Parts of an entry its stored form may not hold as the matcher sees them: a gzip body the
 * parser left compressed (deferGzipBodies) is decoded when the entry is read, which sets
 * the body, its size and may add issues (src/entries/deferred.ts).
 */
const DERIVED_ROOTS = ['response.content', 'request.postData', 'response.bodySize', 'request.bodySize', 'issues'];

/**
 * Characters of every text a number or boolean can have (String(n): digits, sign, point,
 * exponent, Infinity, NaN; true, false). KFL's `==`, `contains` and the rest compare a
 * number or boolean field by that text (eqStr, textOf in helpers.ts), and a V8-serialized
 * number is not its text: a literal made only of these could match one.
 */
const NUMBER_OR_BOOLEAN_CHARS = new Set('0123456789+-.eEInfityNalrus');

/**
 * The literal as a required text of the stored form, or undefined when a match does not
 * guarantee it is there: a field that is indexed or derived at read time, a literal a
 * number or boolean could match, or one with a character JSON escapes ("\\, control
 * characters) or that is not ASCII (V8 keeps Latin-1 text as single bytes, JSON as UTF-8).
 */
function textLiteral(keys: (string | number)[], value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  const field = keys.join('.');
  if (INDEXED.has(field)) return undefined;
  for (const root of DERIVED_ROOTS) if (field === root || field.startsWith(root + '.')) return undefined;
  let onlyNumberChars = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return undefined;
    if (!NUMBER_OR_BOOLEAN_CHARS.has(value[i]!)) onlyNumberChars = false;
  }
  return onlyNumberChars ? undefined : value;
}

function mirror(op: string): string {
  return op === '<' ? '>' : op === '<=' ? '>=' : op === '>' ? '<' : op === '>=' ? '<=' : op;
}

/** `path op value` → a constraint, when the path is indexed and the value a constant. */
function comparison(op: string, left: Expr, right: Expr, now: number): Constraint | undefined {
  const keys = pathOf(left);
  if (!keys) return undefined;
  const field = keys.join('.');
  const lit = right.kind === 'literal' ? right.value : undefined;
  if (op === '==') {
    const t = textLiteral(keys, lit);
    if (t !== undefined) return { texts: new Set([t]) };
    switch (field) {
      case 'protocol.name':
        return typeof lit === 'string' ? { protocols: new Set([lit]) } : undefined;
      case 'src.ip':
      case 'dst.ip':
        return typeof lit === 'string' ? { ips: new Set([lit]) } : undefined;
      case 'src.namespace':
      case 'dst.namespace':
        return typeof lit === 'string' ? { namespaces: new Set([lit]) } : undefined;
      case 'src.port':
      case 'dst.port': {
        const n = numberOf(right);
        return n !== undefined ? { ports: new Set([n]) } : undefined;
      }
    }
  }
  if (field === 'response.status') {
    // Ordering against a string can fall back to comparing text: only a number narrows it.
    const n = op === '==' ? numberOf(right) : fold(right);
    return n === undefined ? undefined : range(op, n, LOW, HIGH, 'status');
  }
  if (field === 'timestamp') {
    const t = timeOf(right, now, op);
    if (!t) return undefined;
    const r = range(op, t.value, LOW, HIGH, 'time');
    // With now() in it the bound moves up with the clock: only a lower bound stays true.
    if (r && t.usesNow) r.time![1] = HIGH;
    return r;
  }
  return undefined;
}

function range(op: string, n: number, low: number, high: number, key: 'status' | 'time'): Constraint | undefined {
  let r: [number, number] | undefined;
  switch (op) {
    case '==':
      r = [n, n];
      break;
    case '>':
    case '>=':
      r = [n, high];
      break;
    case '<':
    case '<=':
      r = [low, n];
      break;
    default:
      return undefined;
  }
  return key === 'status' ? { status: r } : { time: r };
}

/** A constant number, or a numeric string literal (which compares as its number). */
function numberOf(e: Expr): number | undefined {
  if (e.kind === 'literal' && typeof e.value === 'string') {
    const n = numericValue(e.value);
    return n === n ? n : undefined;
  }
  return fold(e);
}

/** A time constant, or `now()` plus or minus constants (non-decreasing in the clock). */
function timeOf(e: Expr, now: number, op: string): { value: number; usesNow: boolean } | undefined {
  const n = op === '==' ? numberOf(e) : fold(e);
  if (n !== undefined) return { value: n, usesNow: false };
  if (e.kind === 'call' && e.name === 'now') return { value: now, usesNow: true };
  if (e.kind === 'binary' && (e.op === '+' || e.op === '-')) {
    const l = timeOf(e.left, now, '');
    const r = fold(e.right);
    if (l && r !== undefined) return { value: e.op === '+' ? l.value + r : l.value - r, usesNow: l.usesNow };
    if (e.op === '+') {
      const l2 = fold(e.left);
      const r2 = timeOf(e.right, now, '');
      if (l2 !== undefined && r2) return { value: l2 + r2.value, usesNow: r2.usesNow };
    }
  }
  return undefined;
}

function intersect(a: [number, number], b: [number, number]): [number, number] {
  return [Math.max(a[0], b[0]), Math.min(a[1], b[1])];
}

function hull(a: [number, number], b: [number, number]): [number, number] {
  return [Math.min(a[0], b[0]), Math.max(a[1], b[1])];
}

/** Both hold. Sets on either endpoint (ips, ports, namespaces) cannot be intersected: keep the smaller. */
function both(a: Constraint, b: Constraint): Constraint {
  const out: Constraint = {};
  if (a.time || b.time) out.time = a.time && b.time ? intersect(a.time, b.time) : a.time ?? b.time;
  if (a.status || b.status) out.status = a.status && b.status ? intersect(a.status, b.status) : a.status ?? b.status;
  if (a.protocols || b.protocols) {
    out.protocols = a.protocols && b.protocols ? new Set([...a.protocols].filter((p) => b.protocols!.has(p))) : a.protocols ?? b.protocols;
  }
  out.ips = smaller(a.ips, b.ips);
  out.ports = smaller(a.ports, b.ports);
  out.namespaces = smaller(a.namespaces, b.namespaces);
  if (a.texts || b.texts) out.texts = new Set([...(a.texts ?? []), ...(b.texts ?? [])]);
  return prune(out);
}

/** One or the other holds: a field narrows only when both narrow it. */
function either(a: Constraint, b: Constraint): Constraint {
  const out: Constraint = {};
  if (a.time && b.time) out.time = hull(a.time, b.time);
  if (a.status && b.status) out.status = hull(a.status, b.status);
  if (a.protocols && b.protocols) out.protocols = new Set([...a.protocols, ...b.protocols]);
  if (a.ips && b.ips) out.ips = new Set([...a.ips, ...b.ips]);
  if (a.ports && b.ports) out.ports = new Set([...a.ports, ...b.ports]);
  if (a.namespaces && b.namespaces) out.namespaces = new Set([...a.namespaces, ...b.namespaces]);
  // A text every alternative needs.
  if (a.texts && b.texts) {
    const common = [...a.texts].filter((t) => b.texts!.has(t));
    if (common.length > 0) out.texts = new Set(common);
  }
  return out;
}

function smaller<T>(a: Set<T> | undefined, b: Set<T> | undefined): Set<T> | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.size < a.size ? b : a;
}

function prune(c: Constraint): Constraint {
  for (const k of Object.keys(c) as (keyof Constraint)[]) if (c[k] === undefined) delete c[k];
  return c;
}

function numeric(v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'string' ? numericValue(v) : NaN;
}

function inStrings(v: unknown, set: readonly string[]): boolean {
  for (const s of set) if (eqStr(v, s, numericValue(s))) return true;
  return false;
}

function inNumbers(v: unknown, set: readonly number[]): boolean {
  for (const n of set) if (eqNum(v, n)) return true;
  return false;
}

/** Whether the plan lets `entry` through (the store's view of it, with the matcher's equality). */
export function planAdmits(plan: PushDownPlan, entry: unknown): boolean {
  if (plan.timeFrom !== undefined || plan.timeTo !== undefined) {
    const t = numeric(get(entry, 'timestamp'));
    if (!(t === t)) return false;
    if (plan.timeFrom !== undefined && t < plan.timeFrom) return false;
    if (plan.timeTo !== undefined && t > plan.timeTo) return false;
  }
  if (plan.protocols && !inStrings(get(get(entry, 'protocol'), 'name'), plan.protocols)) return false;
  const src = get(entry, 'src');
  const dst = get(entry, 'dst');
  if (plan.ips && !inStrings(get(src, 'ip'), plan.ips) && !inStrings(get(dst, 'ip'), plan.ips)) return false;
  if (plan.ports && !inNumbers(get(src, 'port'), plan.ports) && !inNumbers(get(dst, 'port'), plan.ports)) return false;
  if (plan.namespaces && !inStrings(get(src, 'namespace'), plan.namespaces) && !inStrings(get(dst, 'namespace'), plan.namespaces)) return false;
  if (plan.statusRange) {
    const s = numeric(get(get(entry, 'response'), 'status'));
    if (!(s === s) || s < plan.statusRange[0] || s > plan.statusRange[1]) return false;
  }
  if (plan.texts) {
    const json = JSON.stringify(entry);
    for (const t of plan.texts) if (!json.includes(t)) return false;
  }
  return true;
}
