import type { CompareOp, Expr } from './ast.js';
import { durationUnits, parseKubesharkDatetime, parseRfc3339, toRegExp } from './checker.js';
import * as H from './helpers.js';

/**
 * Turns a checked tree into one plain JavaScript function, built once per query.
 *
 * No text of the query ever becomes code: every literal (string, number, regex, path key)
 * goes into a constants array handed to the generated factory as a value, and the
 * source refers to it only as `cN`, a name this file makes up. The only other words in
 * the generated source are this file's own (helper names, operators, `null`, `true`).
 */

export type MatchFn = (entry: unknown) => boolean;

export interface Generated {
  /** The generated JavaScript (for tests and `kfl check --debug`). */
  code: string;
  constants: unknown[];
}

const HELPER_NAMES = [
  'get',
  'index',
  'header',
  'eq',
  'eqStr',
  'eqNum',
  'eqBool',
  'rx',
  'cmp',
  'cmpNum',
  'startsWith',
  'endsWith',
  'contains',
  'size',
  'json',
  'jsonGet',
  'add',
  'sub',
  'neg',
] as const;

const ORD: Record<string, H.Ord> = { '<': H.Ord.Lt, '<=': H.Ord.Le, '>': H.Ord.Gt, '>=': H.Ord.Ge };
const FLIP: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

interface Code {
  code: string;
  /** The code yields a boolean already. */
  bool: boolean;
}

class Generator {
  readonly constants: unknown[] = [];
  private readonly index = new Map<unknown, number>();

  /** A constant's name in the generated source; equal primitives share one slot. */
  private constant(value: unknown, shareable = true): string {
    if (shareable) {
      const key = typeof value === 'string' ? 's:' + value : typeof value === 'number' ? value : undefined;
      if (key !== undefined) {
        const seen = this.index.get(key);
        if (seen !== undefined) return 'c' + seen;
        this.index.set(key, this.constants.length);
      }
    }
    this.constants.push(value);
    return 'c' + (this.constants.length - 1);
  }

  bool(e: Expr): string {
    const c = this.gen(e);
    return c.bool ? c.code : `!!(${c.code})`;
  }

  value(e: Expr): string {
    return this.gen(e).code;
  }

  gen(e: Expr): Code {
    switch (e.kind) {
      case 'literal': {
        const v = e.value;
        if (v === null) return { code: 'null', bool: false };
        if (typeof v === 'boolean') return { code: v ? 'true' : 'false', bool: true };
        return { code: this.constant(v), bool: false };
      }
      case 'regex':
        // The checker lets a regex stand only beside == / != and in matches(), handled there.
        return { code: 'null', bool: false };
      case 'ident':
        return { code: step('e', this.constant(e.name)), bool: false };
      case 'member': {
        const parent = e.object;
        if (parent.kind === 'method' && parent.name === 'json' && typeof e.key === 'string' && H.isPlainJsonKey(e.key)) {
          // `….json().key`: a body that cannot hold the key is not parsed (see jsonGet).
          const slot = this.constant(H.createJsonSlot(), false);
          const text = this.value(parent.object);
          return { code: `jsonGet(${slot}, e, ${text}, ${this.constant(e.key)}, ${this.constant('"' + e.key + '"')})`, bool: false };
        }
        const obj = this.value(e.object);
        if (typeof e.key === 'number') return { code: `index(${obj}, ${this.constant(e.key)}, ${this.constant(String(e.key))})`, bool: false };
        const underHeaders = (parent.kind === 'member' && parent.key === 'headers') || (parent.kind === 'ident' && parent.name === 'headers');
        if (underHeaders) {
          // The name as written is the usual hit: a step of its own; the case-insensitive scan only when it misses.
          const k = this.constant(e.key);
          return {
            code: `(t = ${obj}, t !== null && typeof t === 'object' && !isArray(t) && hasOwn.call(t, ${k}) ? ((t = t[${k}]) !== undefined ? t : null) : header(t, ${k}, ${this.constant(e.key.toLowerCase())}))`,
            bool: false,
          };
        }
        return { code: step(obj, this.constant(e.key)), bool: false };
      }
      case 'macro':
        return this.gen(e.expansion);
      case 'call': {
        const folded = fold(e);
        if (folded !== undefined) return { code: this.constant(folded), bool: false };
        if (e.name === 'now') return { code: 'now()', bool: false };
        // A duration of a value known only per entry.
        return { code: `mulOrNull(${this.value(e.args[0])}, ${this.constant(durationUnits[e.name])})`, bool: false };
      }
      case 'method': {
        const obj = this.value(e.object);
        switch (e.name) {
          case 'startsWith':
          case 'endsWith':
          case 'contains':
            return { code: `${e.name}(${obj}, ${this.value(e.args[0])})`, bool: true };
          case 'matches': {
            const a = e.args[0];
            const source = a.kind === 'regex' ? a.source : String((a as { value: unknown }).value);
            return { code: `rx(${obj}, ${this.constant(toRegExp(source), false)})`, bool: true };
          }
          case 'size':
            return { code: `size(${obj})`, bool: false };
          default: // json
            return { code: `json(${this.constant(H.createJsonSlot(), false)}, e, ${obj})`, bool: false };
        }
      }
      case 'not':
        return { code: `!${paren(this.bool(e.operand))}`, bool: true };
      case 'neg': {
        const folded = fold(e);
        if (folded !== undefined) return { code: this.constant(folded), bool: false };
        return { code: `neg(${this.value(e.operand)})`, bool: false };
      }
      case 'and':
      case 'or':
        return { code: '(' + e.operands.map((o) => this.bool(o)).join(e.kind === 'and' ? ' && ' : ' || ') + ')', bool: true };
      case 'binary':
        if (e.op === '+' || e.op === '-') {
          const folded = fold(e);
          if (folded !== undefined) return { code: this.constant(folded), bool: false };
          return { code: `${e.op === '+' ? 'add' : 'sub'}(${this.value(e.left)}, ${this.value(e.right)})`, bool: false };
        }
        return { code: this.compare(e.op, e.left, e.right), bool: true };
    }
  }

  private compare(op: CompareOp, left: Expr, right: Expr): string {
    if (op === '==' || op === '!=') {
      const t = this.equality(left, right);
      return op === '==' ? t : `!${paren(t)}`;
    }
    const ord = (o: string): string => String(ORD[o]);
    const rn = constNumber(right);
    if (rn !== undefined) return `cmpNum(${this.value(left)}, ${this.constant(rn)}, ${ord(op)})`;
    const ln = constNumber(left);
    if (ln !== undefined) return `cmpNum(${this.value(right)}, ${this.constant(ln)}, ${ord(FLIP[op])})`;
    return `cmp(${this.value(left)}, ${this.value(right)}, ${ord(op)})`;
  }

  /** `left == right`, specialised on whichever side is a constant. */
  private equality(left: Expr, right: Expr): string {
    if (left.kind === 'regex' || isConstant(left)) {
      if (!(right.kind === 'regex' || isConstant(right))) [left, right] = [right, left];
    }
    if (right.kind === 'regex') return `rx(${this.value(left)}, ${this.constant(toRegExp(right.source), false)})`;
    if (right.kind === 'literal') {
      const v = right.value;
      if (v === null) return `(${this.value(left)} === null)`;
      if (typeof v === 'string') return `eqStr(${this.value(left)}, ${this.constant(v)}, ${this.constant(H.numericValue(v))})`;
      if (typeof v === 'number') return `eqNum(${this.value(left)}, ${this.constant(v)})`;
      return `eqBool(${this.value(left)}, ${v ? 'true' : 'false'})`;
    }
    const n = constNumber(right);
    if (n !== undefined) return `eqNum(${this.value(left)}, ${this.constant(n)})`;
    return `eq(${this.value(left)}, ${this.value(right)})`;
  }
}

/**
 * One step of a path, `get(obj, k)` written out in place: each step then has its own
 * property-load site, which V8 specialises to the one key and the few entry shapes it sees
 * there (a shared helper's single site sees every key and goes megamorphic, at half the
 * speed). The key stays a constant (`k` is a `cN` name). `t` is the match function's one
 * temporary: a step reads and writes it with nothing else in between, so nesting is safe.
 */
function step(obj: string, k: string): string {
  return `(t = ${obj}, t !== null && typeof t === 'object' && !isArray(t) && hasOwn.call(t, ${k}) && (t = t[${k}]) !== undefined ? t : null)`;
}

function paren(code: string): string {
  return `(${code})`;
}

function isConstant(e: Expr): boolean {
  return e.kind === 'literal' || constNumber(e) !== undefined;
}

function constNumber(e: Expr): number | undefined {
  if (e.kind === 'literal') return typeof e.value === 'number' ? e.value : undefined;
  return fold(e);
}

/** The value of a number expression that needs no entry and no clock, if it is one. */
export function fold(e: Expr): number | undefined {
  switch (e.kind) {
    case 'literal':
      return typeof e.value === 'number' ? e.value : undefined;
    case 'neg': {
      const v = fold(e.operand);
      return v === undefined ? undefined : -v;
    }
    case 'binary': {
      if (e.op !== '+' && e.op !== '-') return undefined;
      const l = fold(e.left);
      const r = fold(e.right);
      if (l === undefined || r === undefined) return undefined;
      return e.op === '+' ? l + r : l - r;
    }
    case 'call': {
      const a = e.args[0];
      if (e.name === 'datetime') return parseKubesharkDatetime((a as { value: string }).value, a.span);
      if (e.name === 'timestamp') return parseRfc3339((a as { value: string }).value, a.span);
      if (Object.prototype.hasOwnProperty.call(durationUnits, e.name)) {
        const v = fold(a);
        return v === undefined ? undefined : v * durationUnits[e.name];
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The JavaScript source and constants for a checked predicate (null: match everything). */
export function generate(predicate: Expr | null): Generated {
  const g = new Generator();
  const body = predicate ? g.bool(predicate) : 'true';
  const names = g.constants.map((_, i) => `c${i} = K[${i}]`);
  const code = [
    "'use strict';",
    names.length ? `const ${names.join(', ')};` : '',
    `return function match(e) { let t; return ${body}; };`,
  ].join('\n');
  return { code, constants: g.constants };
}

function mulOrNull(a: unknown, unit: number): number | null {
  const n = typeof a === 'number' ? a : typeof a === 'string' ? H.numericValue(a) : NaN;
  return n === n ? n * unit : null;
}

/** Builds the match function: the generated source gets the constants and helpers as values. */
export function compilePredicate(predicate: Expr | null, now: () => number): { match: MatchFn; generated: Generated } {
  const generated = generate(predicate);
  const helpers = HELPER_NAMES.map((n) => H[n] as unknown);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the source is ours; the query's text is only in K
  const factory = new Function('K', ...HELPER_NAMES, 'now', 'mulOrNull', 'hasOwn', 'isArray', generated.code) as (...args: unknown[]) => MatchFn;
  const match = factory(generated.constants, ...helpers, now, mulOrNull, Object.prototype.hasOwnProperty, Array.isArray);
  return { match, generated };
}
