import type { CompareOp, Expr, MacroExpr } from './ast.js';
import { KflError, spanAt, type KflSpan } from './errors.js';
import { defaultKflLimits, tokenize, type KflLimits, type Token, type TokenKind } from './lexer.js';
import { builtinMacroExpansion, isBuiltinMacro } from './macros.js';

export interface ParseOptions {
  /** User macros: name → KFL text. They take precedence over the built-in protocol macros. */
  macros?: Readonly<Record<string, string>>;
  limits?: Partial<KflLimits>;
}

/** The tree of a query, or null for an empty query (which matches every entry). */
export function parse(source: string, opts: ParseOptions = {}): Expr | null {
  const limits: KflLimits = { ...defaultKflLimits, ...opts.limits };
  return new Parser(source, limits, opts.macros ?? {}, [], 0).parseQuery();
}

const COMPARE_OPS: ReadonlySet<TokenKind> = new Set<TokenKind>(['==', '!=', '<', '<=', '>', '>=']);

function describe(t: Token): string {
  return t.kind === 'eof' ? 'the end of the query' : `'${t.text}'`;
}

class Parser {
  private readonly tokens: Token[];
  private pos = 0;

  constructor(
    private readonly source: string,
    private readonly limits: KflLimits,
    private readonly macros: Readonly<Record<string, string>>,
    /** Names of the user macros being expanded, outermost first (cycle detection). */
    private readonly macroStack: readonly string[],
    /** Nesting already used by the text this one is expanded into. */
    private depth: number,
  ) {
    this.tokens = tokenize(source, limits);
  }

  private span(start: number, end: number): KflSpan {
    return spanAt(this.source, start, end);
  }
  private peek(): Token {
    return this.tokens[this.pos];
  }
  private next(): Token {
    const t = this.tokens[this.pos];
    if (t.kind !== 'eof') this.pos++;
    return t;
  }
  private previous(): Token | undefined {
    return this.pos > 0 ? this.tokens[this.pos - 1] : undefined;
  }
  private enter(at: Token): void {
    if (++this.depth > this.limits.maxDepth) {
      throw new KflError('kfl.too_deep', `the query nests deeper than ${this.limits.maxDepth} levels`, this.span(at.start, at.end));
    }
  }
  private leave(): void {
    this.depth--;
  }

  // query = [ or ] eof
  parseQuery(): Expr | null {
    if (this.peek().kind === 'eof') return null;
    const e = this.parseOr();
    const t = this.peek();
    if (t.kind === ')') throw new KflError('kfl.unbalanced_paren', "this ')' has no '(' before it", this.span(t.start, t.end));
    if (t.kind !== 'eof') {
      throw new KflError('kfl.unexpected_token', `expected 'and', 'or' or the end of the query, found ${describe(t)}`, this.span(t.start, t.end));
    }
    return e;
  }

  // or = and { ("or" | "||") and }
  private parseOr(): Expr {
    const first = this.parseAnd();
    if (this.peek().kind !== 'or') return first;
    const operands = [first];
    while (this.peek().kind === 'or') {
      this.next();
      operands.push(this.parseAnd());
    }
    return { kind: 'or', operands, span: this.span(first.span.start, operands[operands.length - 1].span.end) };
  }

  // and = compare { ("and" | "&&") compare }
  private parseAnd(): Expr {
    const first = this.parseCompare();
    if (this.peek().kind !== 'and') return first;
    const operands = [first];
    while (this.peek().kind === 'and') {
      this.next();
      operands.push(this.parseCompare());
    }
    return { kind: 'and', operands, span: this.span(first.span.start, operands[operands.length - 1].span.end) };
  }

  // compare = additive [ ("==" | "!=" | "<" | "<=" | ">" | ">=") additive ]
  private parseCompare(): Expr {
    const left = this.parseAdditive();
    const t = this.peek();
    if (!COMPARE_OPS.has(t.kind)) return left;
    this.next();
    const right = this.parseAdditive();
    const after = this.peek();
    if (COMPARE_OPS.has(after.kind)) {
      throw new KflError('kfl.unexpected_token', `comparisons do not chain: put parentheses around one of them`, this.span(after.start, after.end));
    }
    return {
      kind: 'binary',
      op: t.kind as CompareOp,
      left,
      right,
      span: this.span(left.span.start, right.span.end),
      opSpan: this.span(t.start, t.end),
    };
  }

  // additive = unary { ("+" | "-") unary }
  private parseAdditive(): Expr {
    let left = this.parseUnary();
    const depth = this.depth;
    for (;;) {
      const t = this.peek();
      if (t.kind !== '+' && t.kind !== '-') {
        this.depth = depth;
        return left;
      }
      // Each operator deepens the (left-leaning) tree: the chain counts as nesting.
      this.enter(t);
      this.next();
      const right = this.parseUnary();
      left = { kind: 'binary', op: t.kind, left, right, span: this.span(left.span.start, right.span.end), opSpan: this.span(t.start, t.end) };
    }
  }

  // unary = ("not" | "!") unary | "-" unary | postfix
  private parseUnary(): Expr {
    const t = this.peek();
    if (t.kind === 'not' || t.kind === '-') {
      this.next();
      this.enter(t);
      const operand = this.parseUnary();
      this.leave();
      return { kind: t.kind === 'not' ? 'not' : 'neg', operand, span: this.span(t.start, operand.span.end) };
    }
    return this.parsePostfix();
  }

  // postfix = primary { "." name [ "(" args ")" ] | "[" (string | integer) "]" }
  private parsePostfix(): Expr {
    let e = this.parsePrimary();
    const depth = this.depth;
    for (;;) {
      const t = this.peek();
      // Each step deepens the tree (a.b.c is member(member(a))): a path counts as nesting.
      if (t.kind === '.' || t.kind === '[') this.enter(t);
      if (t.kind === '.') {
        this.next();
        const name = this.next();
        if (name.kind !== 'ident' && !isKeyword(name.kind)) {
          throw new KflError('kfl.unexpected_token', `expected a field name after '.', found ${describe(name)}`, this.span(name.start, name.end));
        }
        if (this.peek().kind === '(') {
          const args = this.parseArgs();
          e = { kind: 'method', object: e, name: name.text, args, span: this.span(e.span.start, this.previous()!.end), nameSpan: this.span(name.start, name.end) };
        } else {
          e = { kind: 'member', object: e, key: name.text, span: this.span(e.span.start, name.end) };
        }
      } else if (t.kind === '[') {
        this.next();
        const k = this.next();
        let key: string | number;
        if (k.kind === 'string') key = k.value as string;
        else if (k.kind === 'number' && Number.isSafeInteger(k.value)) key = k.value as number;
        else if (k.kind === 'eof') throw new KflError('kfl.unbalanced_paren', "this '[' is never closed", this.span(t.start, t.end));
        else throw new KflError('kfl.bad_index', `an index must be a string or a whole number, found ${describe(k)}`, this.span(k.start, k.end));
        const close = this.next();
        if (close.kind !== ']') {
          const code = close.kind === 'eof' ? 'kfl.unbalanced_paren' : 'kfl.unexpected_token';
          const at = close.kind === 'eof' ? t : close;
          throw new KflError(code, close.kind === 'eof' ? "this '[' is never closed" : `expected ']', found ${describe(close)}`, this.span(at.start, at.end));
        }
        e = { kind: 'member', object: e, key, span: this.span(e.span.start, close.end) };
      } else {
        this.depth = depth;
        return e;
      }
    }
  }

  // args = "(" [ or { "," or } ] ")"
  private parseArgs(): Expr[] {
    const open = this.next();
    const args: Expr[] = [];
    this.enter(open);
    if (this.peek().kind !== ')') {
      for (;;) {
        args.push(this.parseOr());
        if (this.peek().kind !== ',') break;
        this.next();
      }
    }
    this.expectClose(open);
    this.leave();
    return args;
  }

  private expectClose(open: Token): void {
    const t = this.next();
    if (t.kind === ')') return;
    if (t.kind === 'eof') throw new KflError('kfl.unbalanced_paren', "this '(' is never closed", this.span(open.start, open.end));
    throw new KflError('kfl.unexpected_token', `expected ')' or an operator, found ${describe(t)}`, this.span(t.start, t.end));
  }

  // primary = number | string | regex | "true" | "false" | "null" | name [ args ] | "(" or ")"
  private parsePrimary(): Expr {
    const t = this.next();
    const span = this.span(t.start, t.end);
    switch (t.kind) {
      case 'number':
        return { kind: 'literal', value: t.value as number, span };
      case 'string':
        return { kind: 'literal', value: t.value as string, span };
      case 'true':
        return { kind: 'literal', value: true, span };
      case 'false':
        return { kind: 'literal', value: false, span };
      case 'null':
        return { kind: 'literal', value: null, span };
      case 'regex':
        return { kind: 'regex', source: t.value as string, span };
      case '(': {
        this.enter(t);
        const inner = this.parseOr();
        this.expectClose(t);
        this.leave();
        // The group keeps the span of its parentheses so errors about it point at them.
        return { ...inner, span: this.span(t.start, this.previous()!.end) } as Expr;
      }
      case 'ident': {
        const name = t.value as string;
        const follow = this.peek().kind;
        if (follow === '(') {
          const args = this.parseArgs();
          return { kind: 'call', name, args, span: this.span(t.start, this.previous()!.end), nameSpan: span };
        }
        if (follow !== '.' && follow !== '[') {
          const macro = this.expandMacro(name, span);
          if (macro) return macro;
        }
        return { kind: 'ident', name, span };
      }
      default: {
        if (t.kind === ')') throw new KflError('kfl.unbalanced_paren', "this ')' has no '(' before it", span);
        const prev = this.previous() === t ? this.tokens[this.pos - 2] : this.previous();
        if (prev && isOperator(prev.kind)) {
          throw new KflError('kfl.expected_value', `expected a value after '${prev.text}', found ${describe(t)}`, span);
        }
        throw new KflError('kfl.unexpected_token', `expected a value, found ${describe(t)}`, span);
      }
    }
  }

  private expandMacro(name: string, span: KflSpan): MacroExpr | null {
    if (Object.prototype.hasOwnProperty.call(this.macros, name)) {
      if (this.macroStack.includes(name)) {
        throw new KflError('kfl.macro_cycle', `macro '${name}' expands to itself (${[...this.macroStack, name].join(' → ')})`, span);
      }
      const text = this.macros[name];
      let expansion: Expr | null;
      try {
        expansion = new Parser(text, this.limits, this.macros, [...this.macroStack, name], this.depth).parseQuery();
      } catch (err) {
        if (err instanceof KflError && !err.macro) err.macro = { name, source: text, usedAt: span };
        throw err;
      }
      if (!expansion) {
        const err = new KflError('kfl.macro_invalid', `macro '${name}' is empty`, spanAt(text, 0, 0));
        err.macro = { name, source: text, usedAt: span };
        throw err;
      }
      return { kind: 'macro', name, builtin: false, expansion, span };
    }
    if (isBuiltinMacro(name)) return { kind: 'macro', name, builtin: true, expansion: builtinMacroExpansion(name, span), span };
    return null;
  }
}

function isKeyword(k: TokenKind): boolean {
  return k === 'and' || k === 'or' || k === 'not' || k === 'true' || k === 'false' || k === 'null';
}

function isOperator(k: TokenKind): boolean {
  return COMPARE_OPS.has(k) || k === 'and' || k === 'or' || k === 'not' || k === '+' || k === '-';
}
