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

export interface LogicalExpr {
  kind: 'and' | 'or';
  left: Expr;
  right: Expr;
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
