/**
 * KFL, the query language: one language for the CLI, the API, the UI, scripts and rules.
 * `compile` runs the stages in order: lexer → parser (with macros) → checker → compiler
 * and plan. See README.md for the language and its semantics.
 */
import { printExpr } from './ast.js';
import { check } from './checker.js';
import { compilePredicate } from './compiler.js';
import { KflError, type KflWarning } from './errors.js';
import type { KflLimits } from './lexer.js';
import { parse } from './parser.js';
import { derivePlan, type PushDownPlan } from './plan.js';
import { redactEntry } from './helpers.js';

export { KflError, formatKflError, kflErrorCodes, kflWarningCodes } from './errors.js';
export type { KflErrorCode, KflSpan, KflWarning, KflWarningCode, KflMacroOrigin } from './errors.js';
export { fieldCatalogue, isKnownField, type FieldInfo, type FieldType } from './catalogue.js';
export { planAdmits, type PushDownPlan } from './plan.js';
export { defaultKflLimits, type KflLimits } from './lexer.js';
export { builtinMacros } from './macros.js';
export { kflFunctions, kflMethods } from './checker.js';
export { REDACTED } from './helpers.js';

export interface CompileOptions {
  /** User macros: name → KFL text (from configuration). They win over the built-in ones. */
  macros?: Readonly<Record<string, string>>;
  /** The clock, ms since the epoch (tests pin it). Default Date.now. */
  now?: () => number;
  limits?: Partial<KflLimits>;
}

export interface CompiledQuery {
  /** The query as given. */
  source: string;
  /** The canonical form: macros expanded, directives left out; '' for "everything". */
  normalized: string;
  /** Whether an entry (a plain JSON object of the Entry shape) matches. Never throws. */
  match(entry: unknown): boolean;
  /** What the store's indexes can answer (every field a necessary condition). */
  plan: PushDownPlan;
  warnings: KflWarning[];
  /** From `limit(n)`: return at most n entries. */
  limit?: number;
  /** From `redact("path", …)`: the paths to blank out, as keys. */
  redact: string[][];
  /** The entry with the redact() paths replaced by "[REDACTED]" (a copy; the input is untouched). */
  apply<T>(entry: T): T;
  /** The protocols the query names, or null. */
  protocols: string[] | null;
}

/** Compiles a query once; throws KflError (code, message, span) when it is not valid. */
export function compile(query: string, opts: CompileOptions = {}): CompiledQuery {
  if (typeof query !== 'string') throw new TypeError('compile() takes the query as a string');
  const now = opts.now ?? Date.now;
  const tree = parse(query, { macros: opts.macros, limits: opts.limits });
  const checked = check(query, tree);
  const { match } = compilePredicate(checked.predicate, now);
  const redact = checked.redact;
  const compiled: CompiledQuery = {
    source: query,
    normalized: checked.predicate ? printExpr(checked.predicate) : '',
    match,
    plan: derivePlan(checked.predicate, now()),
    warnings: checked.warnings,
    redact,
    apply: redact.length === 0 ? <T>(entry: T): T => entry : <T>(entry: T): T => redactEntry(entry, redact),
    protocols: checked.protocols,
  };
  if (checked.limit !== undefined) compiled.limit = checked.limit;
  return compiled;
}

/** Compiled queries kept by `match()`; the least recently used is dropped first. */
export const MATCH_CACHE_SIZE = 256;
const cache = new Map<string, CompiledQuery>();

function cached(query: string): CompiledQuery {
  let c = cache.get(query);
  if (c) {
    cache.delete(query);
    cache.set(query, c);
    return c;
  }
  c = compile(query);
  cache.set(query, c);
  if (cache.size > MATCH_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  return c;
}

/** `kfl.match(query, entry)` for scripts: compiles once per distinct query (LRU), throws KflError on a bad query. */
export function match(query: string, entry: unknown): boolean {
  return cached(query).match(entry);
}

export type ValidateResult = { ok: true; warnings: KflWarning[] } | { ok: false; error: ReturnType<KflError['toJSON']> };

/** `kfl.validate(query)`: never throws for a bad query; says what is wrong and where. */
export function validate(query: string, opts: CompileOptions = {}): ValidateResult {
  try {
    return { ok: true, warnings: compile(query, opts).warnings };
  } catch (err) {
    if (err instanceof KflError) return { ok: false, error: err.toJSON() };
    throw err;
  }
}
