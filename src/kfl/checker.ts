import { pathOf, type CallExpr, type Expr, type MethodExpr } from './ast.js';
import { isKnownField } from './catalogue.js';
import { KflError, spanAt, type KflSpan, type KflWarning } from './errors.js';
import { builtinMacros, macroProtocol } from './macros.js';
import { parse } from './parser.js';

/** What a call expects of an argument. */
type ArgKind =
  /** Any value but a number, boolean, null or regex literal. */
  | 'string'
  /** Any value but a string, boolean, null or regex literal. */
  | 'number'
  /** A string literal. */
  | 'string-literal'
  /** A regex or string literal: compiled once, here. */
  | 'pattern'
  /** A whole non-negative number literal. */
  | 'count';

interface Signature {
  args: ArgKind[];
  /** The last argument kind may repeat (redact("a", "b", …)). */
  variadic?: boolean;
  /** limit() and redact() shape the result instead of testing an entry. */
  directive?: boolean;
  description: string;
}

export const kflFunctions: Readonly<Record<string, Signature>> = Object.freeze({
  now: { args: [], description: 'ms since the epoch, now' },
  milliseconds: { args: ['number'], description: 'n milliseconds, in ms' },
  seconds: { args: ['number'], description: 'n seconds, in ms (timestamp is in ms)' },
  minutes: { args: ['number'], description: 'n minutes, in ms' },
  hours: { args: ['number'], description: 'n hours, in ms' },
  days: { args: ['number'], description: 'n days, in ms' },
  datetime: { args: ['string-literal'], description: 'ms since the epoch of "1/2/2006, 3:04:05.000 PM" (UTC)' },
  timestamp: { args: ['string-literal'], description: 'ms since the epoch of an RFC 3339 time' },
  limit: { args: ['count'], directive: true, description: 'return at most n entries' },
  redact: { args: ['string-literal'], variadic: true, directive: true, description: 'replace the values at these paths with [REDACTED]' },
});

export const kflMethods: Readonly<Record<string, Signature>> = Object.freeze({
  startsWith: { args: ['string'], description: 'the text starts with the argument' },
  endsWith: { args: ['string'], description: 'the text ends with the argument' },
  contains: { args: ['string'], description: 'the text holds the argument (a list: an element equals it)' },
  matches: { args: ['pattern'], description: 'the regular expression finds a match in the text' },
  json: { args: [], description: 'parse the text as JSON (or base64 of JSON) and keep walking' },
  size: { args: [], description: 'characters of a text, elements of a list, keys of an object' },
});

/** Duration functions and their size in ms. */
export const durationUnits: Readonly<Record<string, number>> = Object.freeze({
  milliseconds: 1,
  seconds: 1000,
  minutes: 60_000,
  hours: 3_600_000,
  days: 86_400_000,
});

export interface CheckResult {
  /** The query without its directives; null when nothing is left (every entry matches). */
  predicate: Expr | null;
  limit?: number;
  redact: string[][];
  warnings: KflWarning[];
  /** Protocols the query names (macros, protocol.name == "…"); null when it names none. */
  protocols: string[] | null;
}

/**
 * Checks a parsed query: calls exist and get the arguments they need, regexes compile,
 * datetimes parse, directives stand at the top level; warns on unknown fields.
 */
export function check(source: string, tree: Expr | null): CheckResult {
  const result: CheckResult = { predicate: null, redact: [], warnings: [], protocols: null };
  if (!tree) return result;

  // Directives are the conjuncts of the top-level `and` chain that are limit() or redact().
  const conjuncts: Expr[] = [];
  flattenAnd(tree, conjuncts);
  const kept: Expr[] = [];
  let limitSpan: KflSpan | undefined;
  for (const c of conjuncts) {
    if (c.kind === 'call' && Object.prototype.hasOwnProperty.call(kflFunctions, c.name) && kflFunctions[c.name].directive) {
      checkCall(c);
      if (c.name === 'limit') {
        if (limitSpan) throw new KflError('kfl.directive_repeated', 'limit() is given more than once', c.span);
        limitSpan = c.span;
        result.limit = (c.args[0] as { value: number }).value;
      } else {
        for (const a of c.args) result.redact.push(redactPath(a as { value: string; span: KflSpan }));
      }
    } else {
      kept.push(c);
    }
  }
  let predicate: Expr | null = null;
  if (kept.length === 1) predicate = kept[0];
  else if (kept.length > 1) predicate = { kind: 'and', operands: kept, span: spanAt(source, kept[0].span.start, kept[kept.length - 1].span.end) };
  result.predicate = predicate;
  if (!predicate) return result;

  const protocols = new Set<string>();
  collectProtocols(predicate, protocols);
  result.protocols = protocols.size > 0 ? [...protocols].sort() : null;
  walk(predicate, result, false);
  return result;
}

function flattenAnd(e: Expr, out: Expr[]): void {
  if (e.kind === 'and') {
    for (const o of e.operands) flattenAnd(o, out);
  } else {
    out.push(e);
  }
}

function collectProtocols(e: Expr, out: Set<string>): void {
  switch (e.kind) {
    case 'macro': {
      const p = e.builtin ? macroProtocol(e.name) : undefined;
      if (p) out.add(p);
      else if (!e.builtin) collectProtocols(e.expansion, out);
      return;
    }
    case 'binary': {
      if (e.op === '==') {
        const l = pathOf(e.left);
        const r = e.right;
        if (l && l.length === 2 && l[0] === 'protocol' && l[1] === 'name' && r.kind === 'literal' && typeof r.value === 'string') out.add(r.value);
      }
      collectProtocols(e.left, out);
      collectProtocols(e.right, out);
      return;
    }
    case 'and':
    case 'or':
      for (const o of e.operands) collectProtocols(o, out);
      return;
    case 'not':
    case 'neg':
      collectProtocols(e.operand, out);
      return;
    default:
      return;
  }
}

function walk(e: Expr, r: CheckResult, underJson: boolean): void {
  switch (e.kind) {
    case 'literal':
      return;
    case 'regex':
      // A regex alone is no test: it only means something beside == / != or in matches().
      throw new KflError('kfl.regex_operator', 'a regular expression can only be compared with == or != or passed to matches()', e.span);
    case 'ident':
    case 'member':
      checkPath(e, r, underJson);
      return;
    case 'macro':
      if (!e.builtin) walk(e.expansion, r, false);
      return;
    case 'call':
      // check() has taken the top-level directives out: one found here is somewhere else.
      if (Object.prototype.hasOwnProperty.call(kflFunctions, e.name) && kflFunctions[e.name].directive) {
        throw new KflError('kfl.directive_misplaced', `${e.name}() must be joined to the query with a top-level 'and' (e.g. http and ${e.name}(…))`, e.span);
      }
      checkCall(e);
      for (const a of e.args) if (a.kind !== 'literal' && a.kind !== 'regex') walk(a, r, false);
      return;
    case 'method':
      checkMethod(e);
      walkObject(e.object, r, underJson);
      for (const a of e.args) if (a.kind !== 'regex') walk(a, r, false);
      return;
    case 'not':
    case 'neg':
      walk(e.operand, r, underJson);
      return;
    case 'and':
    case 'or':
      for (const o of e.operands) walk(o, r, false);
      return;
    case 'binary': {
      const lr = e.left.kind === 'regex';
      const rr = e.right.kind === 'regex';
      if (lr || rr) {
        const re = (lr ? e.left : e.right) as { source: string; span: KflSpan };
        if ((e.op !== '==' && e.op !== '!=') || (lr && rr)) {
          throw new KflError('kfl.regex_operator', `a regular expression cannot be used with '${e.op}'${lr && rr ? ' against another one' : ''}`, e.opSpan);
        }
        compileRegex(re.source, re.span);
      }
      if (!lr) walk(e.left, r, false);
      if (!rr) walk(e.right, r, false);
      if (e.left.kind === 'not' && isCompare(e.op) && !(e.right.kind === 'literal' && typeof e.right.value === 'boolean')) {
        r.warnings.push({
          code: 'kfl.not_binds_tighter',
          message: `'not' applies to the left operand only (it binds tighter than '${e.op}'); write not (a ${e.op} b) to negate the comparison`,
          span: e.left.span,
        });
      }
      return;
    }
  }
}

/** The object a method is called on: a path below json() is not checked against the catalogue. */
function walkObject(e: Expr, r: CheckResult, underJson: boolean): void {
  walk(e, r, underJson);
}

function isCompare(op: string): boolean {
  return op === '==' || op === '!=' || op === '<' || op === '<=' || op === '>' || op === '>=';
}

function checkPath(e: Expr, r: CheckResult, underJson: boolean): void {
  // A path whose root is a json() (or any other) call is checked through the call.
  let base: Expr = e;
  while (base.kind === 'member') base = base.object;
  if (base.kind !== 'ident') {
    walk(base, r, underJson);
    return;
  }
  if (underJson) return;
  const keys = pathOf(e)!;
  if (isKnownField(keys, r.protocols)) return;
  const shown = keys.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
  const hint = keys.length === 1 ? closestMacro(String(keys[0])) : undefined;
  const forWhat = r.protocols ? ` for ${r.protocols.join(', ')}` : '';
  r.warnings.push({
    code: 'kfl.unknown_field',
    message: `'${shown}' is not a field the catalogue knows${forWhat}${hint ? `; did you mean the macro '${hint}'?` : ''}`,
    span: e.span,
  });
}

function closestMacro(name: string): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const m of Object.keys(builtinMacros)) {
    const d = editDistance(name.toLowerCase(), m);
    if (d < bestD) {
      bestD = d;
      best = m;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 99;
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

function checkCall(e: CallExpr): void {
  const sig = Object.prototype.hasOwnProperty.call(kflFunctions, e.name) ? kflFunctions[e.name] : undefined;
  if (!sig) {
    const asMethod = Object.prototype.hasOwnProperty.call(kflMethods, e.name) ? ` (${e.name} is a method: path.${e.name}(…))` : '';
    throw new KflError('kfl.unknown_function', `unknown function '${e.name}'${asMethod}`, e.nameSpan);
  }
  checkArgs(e.name, sig, e.args, e.span);
  if (e.name === 'datetime') parseKubesharkDatetime((e.args[0] as { value: string }).value, e.args[0].span);
  if (e.name === 'timestamp') parseRfc3339((e.args[0] as { value: string }).value, e.args[0].span);
}

function checkMethod(e: MethodExpr): void {
  const sig = Object.prototype.hasOwnProperty.call(kflMethods, e.name) ? kflMethods[e.name] : undefined;
  if (!sig) {
    const asFunction = Object.prototype.hasOwnProperty.call(kflFunctions, e.name) ? ` (${e.name} is a function: ${e.name}(…))` : '';
    throw new KflError('kfl.unknown_function', `unknown method '${e.name}'${asFunction}`, e.nameSpan);
  }
  checkArgs(e.name, sig, e.args, e.span);
  if (e.name === 'matches') {
    const a = e.args[0];
    if (a.kind === 'regex') compileRegex(a.source, a.span);
    else compileRegex(String((a as { value: string }).value), a.span);
  }
}

function checkArgs(name: string, sig: Signature, args: Expr[], span: KflSpan): void {
  const n = sig.args.length;
  if (sig.variadic ? args.length < n : args.length !== n) {
    const want = sig.variadic ? `at least ${n}` : String(n);
    throw new KflError('kfl.argument_count', `${name}() takes ${want} argument${n === 1 && !sig.variadic ? '' : 's'}, got ${args.length}`, span);
  }
  args.forEach((a, i) => checkArg(name, sig.args[Math.min(i, n - 1)], a, i));
}

function checkArg(name: string, kind: ArgKind, a: Expr, i: number): void {
  const lit = a.kind === 'literal' ? a.value : undefined;
  const isLit = a.kind === 'literal';
  const bad = (what: string): never => {
    throw new KflError('kfl.argument_type', `argument ${i + 1} of ${name}() must be ${what}`, a.span);
  };
  switch (kind) {
    case 'string':
      if (a.kind === 'regex' || (isLit && typeof lit !== 'string')) bad('a string (for a regular expression use matches())');
      return;
    case 'number':
      if (a.kind === 'regex' || (isLit && typeof lit !== 'number')) bad('a number');
      return;
    case 'string-literal':
      if (!isLit || typeof lit !== 'string') bad('a string literal');
      return;
    case 'pattern':
      if (a.kind !== 'regex' && !(isLit && typeof lit === 'string')) bad('a regular expression r"…" or a string literal');
      return;
    case 'count':
      if (!isLit || typeof lit !== 'number' || !Number.isSafeInteger(lit) || lit < 0) bad('a whole number ≥ 0');
      return;
  }
}

/** A redact() argument, a field path written as in a query ("request.headers.Authorization"), as keys. */
function redactPath(a: { value: string; span: KflSpan }): string[] {
  let tree: Expr | null = null;
  try {
    tree = parse(a.value, { macros: {} });
  } catch {
    tree = null;
  }
  const keys = tree && (tree.kind === 'ident' || tree.kind === 'member') ? pathOf(tree) : null;
  if (!keys) throw new KflError('kfl.bad_redact_path', `'${a.value}' is not a field path such as "request.headers.Authorization"`, a.span);
  return keys.map(String);
}

/**
 * Kubeshark (Go regexp) writes flags inline at the start: `(?i)abc`. Those become
 * JavaScript flags; the rest of the syntax is the common subset. Matching is a search
 * (unanchored), as Go's MatchString is.
 */
export function toRegExp(source: string): RegExp {
  let flags = '';
  let body = source;
  const m = /^\(\?([imsU]+)\)/.exec(body);
  if (m) {
    body = body.slice(m[0].length);
    for (const f of new Set(m[1])) if (f !== 'U') flags += f;
  }
  return new RegExp(body, flags);
}

function compileRegex(source: string, span: KflSpan): RegExp {
  try {
    return toRegExp(source);
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^Invalid regular expression: /, '') : String(err);
    throw new KflError('kfl.bad_regex', `the regular expression does not compile: ${why}`, span);
  }
}

const DATETIME = /^(\d{1,2})\/(\d{1,2})\/(\d{4}), (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? ([AaPp][Mm])$/;

/**
 * Kubeshark's datetime layout, Go's "1/2/2006, 3:04:05.000 PM". Go's time.Parse reads a
 * layout without a zone as UTC, and Kubeshark v1 parsed it with time.Parse, so this is UTC.
 */
export function parseKubesharkDatetime(text: string, span: KflSpan): number {
  const m = DATETIME.exec(text);
  const fail = (): never => {
    throw new KflError('kfl.bad_datetime', `'${text}' is not a datetime in the form "1/2/2006, 3:04:05.000 PM"`, span);
  };
  if (!m) return fail();
  const [month, day, year, hour12, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (month < 1 || month > 12 || hour12 < 1 || hour12 > 12 || minute > 59 || second > 59) fail();
  const pm = m[8].toUpperCase() === 'PM';
  const hour = (hour12 % 12) + (pm ? 12 : 0);
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  if (new Date(ms).getUTCDate() !== day) fail(); // 2/30 rolls over: not a date
  return ms + fraction(m[7]);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** RFC 3339 date-time (§5.6), with up to nine fraction digits, to ms since the epoch. */
export function parseRfc3339(text: string, span: KflSpan): number {
  const m = RFC3339.exec(text);
  const fail = (): never => {
    throw new KflError('kfl.bad_timestamp', `'${text}' is not an RFC 3339 time such as "2021-10-28T21:13:02.905Z"`, span);
  };
  if (!m) return fail();
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) fail();
  let ms = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59));
  if (new Date(ms).getUTCDate() !== day) fail();
  if (!m[8]) {
    const offset = (Number(m[10]) * 60 + Number(m[11])) * 60_000;
    ms += m[9] === '+' ? -offset : offset;
  }
  return ms + fraction(m[7]);
}

function fraction(digits: string | undefined): number {
  return digits ? Number('0.' + digits) * 1000 : 0;
}
