import { KflError, spanAt } from './errors.js';

/** Named limits on a query, enforced while lexing and parsing; each is counted in its own error code. */
export interface KflLimits {
  /** Characters in the query (kfl.query_too_long). */
  maxQueryLength: number;
  /** Tokens in the query (kfl.too_many_tokens). */
  maxTokens: number;
  /** Nesting of parentheses, `not` and operands (kfl.too_deep). */
  maxDepth: number;
}

export const defaultKflLimits: Readonly<KflLimits> = Object.freeze({
  maxQueryLength: 16 * 1024,
  maxTokens: 4096,
  maxDepth: 64,
});

export type TokenKind =
  | 'number'
  | 'string'
  | 'regex'
  | 'ident'
  | 'and'
  | 'or'
  | 'not'
  | 'true'
  | 'false'
  | 'null'
  | '=='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | '+'
  | '-'
  | '.'
  | ','
  | '('
  | ')'
  | '['
  | ']'
  | 'eof';

export interface Token {
  kind: TokenKind;
  /** The text as written (for error messages). */
  text: string;
  /** Decoded value: the string's characters, the regex source, the number. */
  value: string | number | null;
  start: number;
  end: number;
}

const KEYWORDS: Record<string, TokenKind> = {
  and: 'and',
  or: 'or',
  not: 'not',
  true: 'true',
  false: 'false',
  null: 'null',
  nil: 'null', // Kubeshark v1 spelled null as nil
};

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
}
function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Splits a query into tokens; the last token is always `eof`. */
export function tokenize(source: string, limits: KflLimits = defaultKflLimits): Token[] {
  if (source.length > limits.maxQueryLength) {
    throw new KflError(
      'kfl.query_too_long',
      `the query is ${source.length} characters long; the limit is ${limits.maxQueryLength}`,
      spanAt(source, limits.maxQueryLength, source.length),
    );
  }
  const tokens: Token[] = [];
  const n = source.length;
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, value: string | number | null = null): void => {
    if (tokens.length >= limits.maxTokens) {
      throw new KflError(
        'kfl.too_many_tokens',
        `the query has more than ${limits.maxTokens} tokens`,
        spanAt(source, start, end),
      );
    }
    tokens.push({ kind, text: source.slice(start, end), value, start, end });
  };
  while (i < n) {
    const c = source.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      i++;
      continue;
    }
    const start = i;
    // r"…" / r'…' is a regex literal; an identifier that merely starts with r is not.
    if (c === 114 && i + 1 < n && (source.charCodeAt(i + 1) === 34 || source.charCodeAt(i + 1) === 39)) {
      const [raw, end] = readRegex(source, i + 1);
      push('regex', start, end, raw);
      i = end;
      continue;
    }
    if (isIdentStart(c)) {
      i++;
      while (i < n && isIdentPart(source.charCodeAt(i))) i++;
      const word = source.slice(start, i);
      const kw = Object.prototype.hasOwnProperty.call(KEYWORDS, word) ? KEYWORDS[word] : undefined;
      push(kw ?? 'ident', start, i, kw ? null : word);
      continue;
    }
    if (isDigit(c)) {
      i = readNumber(source, i);
      const text = source.slice(start, i);
      const value = Number(text);
      if (!Number.isFinite(value)) {
        throw new KflError('kfl.bad_number', `'${text}' is not a finite number`, spanAt(source, start, i));
      }
      push('number', start, i, value);
      continue;
    }
    if (c === 34 || c === 39) {
      const [value, end] = readString(source, i);
      push('string', start, end, value);
      i = end;
      continue;
    }
    const c2 = i + 1 < n ? source.charCodeAt(i + 1) : 0;
    const two = (kind: TokenKind): void => {
      push(kind, start, start + 2);
      i += 2;
    };
    const one = (kind: TokenKind): void => {
      push(kind, start, start + 1);
      i += 1;
    };
    switch (c) {
      case 61: // =
        if (c2 === 61) two('==');
        else throw unexpected(source, start, "'=' is not an operator; did you mean '=='?");
        break;
      case 33: // !
        if (c2 === 61) two('!=');
        else one('not');
        break;
      case 60: // <
        if (c2 === 61) two('<=');
        else one('<');
        break;
      case 62: // >
        if (c2 === 61) two('>=');
        else one('>');
        break;
      case 38: // &
        if (c2 === 38) two('and');
        else throw unexpected(source, start, "'&' is not an operator; did you mean '&&'?");
        break;
      case 124: // |
        if (c2 === 124) two('or');
        else throw unexpected(source, start, "'|' is not an operator; did you mean '||'?");
        break;
      case 43:
        one('+');
        break;
      case 45:
        one('-');
        break;
      case 46:
        one('.');
        break;
      case 44:
        one(',');
        break;
      case 40:
        one('(');
        break;
      case 41:
        one(')');
        break;
      case 91:
        one('[');
        break;
      case 93:
        one(']');
        break;
      default:
        throw unexpected(source, start, `unexpected character '${String.fromCodePoint(source.codePointAt(start) ?? c)}'`);
    }
  }
  tokens.push({ kind: 'eof', text: '', value: null, start: n, end: n });
  return tokens;
}

function unexpected(source: string, start: number, message: string): KflError {
  const cp = source.codePointAt(start) ?? 0;
  return new KflError('kfl.unexpected_character', message, spanAt(source, start, start + (cp > 0xffff ? 2 : 1)));
}

// number = digits [ "." digits ] [ ("e"|"E") ["+"|"-"] digits ]
function readNumber(source: string, start: number): number {
  let i = start;
  const n = source.length;
  while (i < n && isDigit(source.charCodeAt(i))) i++;
  if (source.charCodeAt(i) === 46 && isDigit(source.charCodeAt(i + 1))) {
    i++;
    while (i < n && isDigit(source.charCodeAt(i))) i++;
  }
  const e = source.charCodeAt(i);
  if (e === 101 || e === 69) {
    let j = i + 1;
    const s = source.charCodeAt(j);
    if (s === 43 || s === 45) j++;
    if (isDigit(source.charCodeAt(j))) {
      i = j;
      while (i < n && isDigit(source.charCodeAt(i))) i++;
    }
  }
  // `42abc` is one bad number rather than a number and a name.
  if (i < n && isIdentStart(source.charCodeAt(i))) {
    let j = i;
    while (j < n && isIdentPart(source.charCodeAt(j))) j++;
    throw new KflError('kfl.bad_number', `'${source.slice(start, j)}' is not a number`, spanAt(source, start, j));
  }
  return i;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', '0': '\0', '\\': '\\', '"': '"', "'": "'", '/': '/' };

/** A quoted string starting at `open`; returns its decoded value and the offset after the closing quote. */
function readString(source: string, open: number): [string, number] {
  const quote = source.charCodeAt(open);
  const n = source.length;
  let out = '';
  let i = open + 1;
  let chunk = i;
  while (i < n) {
    const c = source.charCodeAt(i);
    if (c === quote) return [out + source.slice(chunk, i), i + 1];
    if (c === 92) {
      out += source.slice(chunk, i);
      const e = source[i + 1];
      if (e === undefined) break;
      if (e === 'u') {
        const hex = source.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
          throw new KflError('kfl.bad_escape', `'\\u' must be followed by four hex digits`, spanAt(source, i, Math.min(n, i + 6)));
        }
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else if (Object.prototype.hasOwnProperty.call(ESCAPES, e)) {
        out += ESCAPES[e];
        i += 2;
      } else {
        throw new KflError('kfl.bad_escape', `unknown escape '\\${e}'`, spanAt(source, i, i + 2));
      }
      chunk = i;
      continue;
    }
    i++;
  }
  throw new KflError('kfl.unterminated_string', 'the string is never closed', spanAt(source, open, n));
}

/**
 * A regex literal's body starting at its quote. The body is kept raw (regex escapes such
 * as `\d` stay as written); only `\"` (the quote) is unescaped, so a quote can appear.
 */
function readRegex(source: string, open: number): [string, number] {
  const quote = source.charCodeAt(open);
  const n = source.length;
  let out = '';
  let i = open + 1;
  let chunk = i;
  while (i < n) {
    const c = source.charCodeAt(i);
    if (c === quote) return [out + source.slice(chunk, i), i + 1];
    if (c === 92 && i + 1 < n) {
      if (source.charCodeAt(i + 1) === quote) {
        out += source.slice(chunk, i) + source[i + 1];
        i += 2;
        chunk = i;
      } else {
        i += 2;
      }
      continue;
    }
    i++;
  }
  throw new KflError('kfl.unterminated_string', 'the regular expression is never closed', spanAt(source, open - 1, n));
}
