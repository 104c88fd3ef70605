import type { KflSpan } from './errors.js';

/** The syntax tree of a query. Every node keeps its span, so the checker can point at it. */
export type Expr =
  | LiteralExpr
  | RegexExpr
  | IdentExpr
  | MemberExpr
  | CallExpr
  | MethodExpr
  | NotExpr
  | NegExpr
  | BinaryExpr
  | LogicalExpr
  | MacroExpr;

export interface LiteralExpr {
  kind: 'literal';
  value: string | number | boolean | null;
  span: KflSpan;
}

/** `r"…"`: the source as written between the quotes. */
export interface RegexExpr {
  kind: 'regex';
  source: string;
  span: KflSpan;
}

/** A bare name that is not a macro: the first segment of a field path (`request`, `timestamp`). */
export interface IdentExpr {
  kind: 'ident';
  name: string;
  span: KflSpan;
}

/** `object.key`, `object["key"]`, `object[0]`. */
export interface MemberExpr {
  kind: 'member';
  object: Expr;
  key: string | number;
  span: KflSpan;
}

/** `now()`, `datetime("…")`, `limit(100)`. */
export interface CallExpr {
  kind: 'call';
  name: string;
  args: Expr[];
  span: KflSpan;
  nameSpan: KflSpan;
}

/** `request.path.startsWith("/api")`, `response.content.text.json()`. */
export interface MethodExpr {
  kind: 'method';
  object: Expr;
  name: string;
  args: Expr[];
  span: KflSpan;
  nameSpan: KflSpan;
}

export interface NotExpr {
  kind: 'not';
  operand: Expr;
  span: KflSpan;
}

export interface NegExpr {
  kind: 'neg';
  operand: Expr;
  span: KflSpan;
}

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type ArithOp = '+' | '-';

export interface BinaryExpr {
  kind: 'binary';
  op: CompareOp | ArithOp;
  left: Expr;
  right: Expr;
  span: KflSpan;
  opSpan: KflSpan;
}

/** `a and b and c`: one node with all operands, so a long chain is not a deep tree. */
export interface LogicalExpr {
  kind: 'and' | 'or';
  operands: Expr[];
  span: KflSpan;
}

/** A macro (built-in protocol macro or user macro) and what it expands to. */
export interface MacroExpr {
  kind: 'macro';
  name: string;
  /** True for the protocol macros (`http`, `dns`, …). */
  builtin: boolean;
  expansion: Expr;
  span: KflSpan;
}

/** A field path as a list of keys, when `e` is a plain path (no calls); otherwise null. */
export function pathOf(e: Expr): (string | number)[] | null {
  const keys: (string | number)[] = [];
  let cur: Expr = e;
  while (cur.kind === 'member') {
    keys.push(cur.key);
    cur = cur.object;
  }
  if (cur.kind !== 'ident') return null;
  keys.push(cur.name);
  return keys.reverse();
}

const PRECEDENCE: Record<Expr['kind'], number> = {
  or: 1,
  and: 2,
  binary: 3,
  not: 5,
  neg: 5,
  member: 6,
  method: 6,
  call: 6,
  ident: 6,
  literal: 6,
  regex: 6,
  macro: 6,
};

function precedenceOf(e: Expr): number {
  if (e.kind === 'macro') return precedenceOf(e.expansion);
  if (e.kind === 'binary' && (e.op === '+' || e.op === '-')) return 4;
  return PRECEDENCE[e.kind];
}

const NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * The canonical text of a tree: macros expanded, words for the logical operators,
 * double-quoted strings, parentheses only where precedence needs them. Parsing the
 * result gives the same tree.
 */
export function printExpr(e: Expr): string {
  switch (e.kind) {
    case 'literal':
      return e.value === null ? 'null' : typeof e.value === 'string' ? JSON.stringify(e.value) : String(e.value);
    case 'regex':
      return 'r"' + escapeRegexBody(e.source) + '"';
    case 'ident':
      return e.name;
    case 'member':
      return (
        wrap(e.object, 6) +
        (typeof e.key === 'number' ? `[${e.key}]` : NAME.test(e.key) && !KEYWORDS.has(e.key) ? '.' + e.key : `[${JSON.stringify(e.key)}]`)
      );
    case 'method':
      return `${wrap(e.object, 6)}.${e.name}(${e.args.map(printExpr).join(', ')})`;
    case 'call':
      return `${e.name}(${e.args.map(printExpr).join(', ')})`;
    case 'macro':
      return printExpr(e.expansion);
    case 'not':
      return 'not ' + wrap(e.operand, 5);
    case 'neg':
      return '-' + wrap(e.operand, 5);
    case 'and':
    case 'or': {
      const p = precedenceOf(e);
      return e.operands.map((o) => wrap(o, p + 1)).join(` ${e.kind} `);
    }
    case 'binary': {
      const p = precedenceOf(e);
      // Comparisons do not chain, so both sides of one need a higher level.
      const leftLevel = p === 3 ? 4 : p;
      return `${wrap(e.left, leftLevel)} ${e.op} ${wrap(e.right, p + 1)}`;
    }
  }
}

const KEYWORDS = new Set(['and', 'or', 'not', 'true', 'false', 'null', 'nil']);

function wrap(e: Expr, level: number): string {
  const s = printExpr(e);
  return precedenceOf(e) < level ? `(${s})` : s;
}

/** A regex body back between double quotes: escapes stay as written, a bare quote gets a backslash. */
function escapeRegexBody(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\' && i + 1 < body.length) {
      out += c + body[i + 1];
      i++;
    } else if (c === '"') {
      out += '\\"';
    } else {
      out += c;
    }
  }
  return out;
}
