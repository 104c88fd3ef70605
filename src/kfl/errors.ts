/**
 * One catalogue of KFL's coded errors and warnings. Every error a user can cause with a
 * query is one of these codes, carries the exact span of the text at fault, and renders
 * with a caret line under that span (formatKflError). The API returns the same object.
 */

/** Where in the query (or in a macro's text) something is: offsets are UTF-16 indices. */
export interface KflSpan {
  start: number;
  end: number;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

export const kflErrorCodes = {
  'kfl.query_too_long': 'the query is longer than the limit',
  'kfl.too_many_tokens': 'the query has more tokens than the limit',
  'kfl.too_deep': 'the query nests deeper than the limit',
  'kfl.unexpected_character': 'a character that is not part of KFL',
  'kfl.unterminated_string': 'a string or regex literal is never closed',
  'kfl.bad_escape': 'an unknown escape sequence in a string',
  'kfl.bad_number': 'a malformed number',
  'kfl.unexpected_token': 'a token where something else was expected',
  'kfl.expected_value': 'an operator with no value after it',
  'kfl.unbalanced_paren': 'a parenthesis or bracket without its partner',
  'kfl.bad_index': 'an index that is not a string or a whole number',
  'kfl.unknown_function': 'a function or method KFL does not have',
  'kfl.argument_count': 'a function called with the wrong number of arguments',
  'kfl.argument_type': 'a function argument of the wrong type',
  'kfl.bad_regex': 'a regular expression that does not compile',
  'kfl.regex_operator': 'a regular expression used with an operator other than == or !=',
  'kfl.bad_datetime': 'a datetime() string not in the form "1/2/2006, 3:04:05.000 PM"',
  'kfl.bad_timestamp': 'a timestamp() string that is not RFC 3339',
  'kfl.directive_misplaced': 'limit() or redact() somewhere other than a top-level `and`',
  'kfl.directive_repeated': 'limit() given more than once',
  'kfl.bad_redact_path': 'a redact() argument that is not a field path',
  'kfl.macro_cycle': 'a macro that expands to itself',
  'kfl.macro_invalid': 'a macro whose name or text is not valid KFL',
} as const;

export type KflErrorCode = keyof typeof kflErrorCodes;

export const kflWarningCodes = {
  'kfl.unknown_field': 'a field the catalogue does not know for the protocols the query names',
  'kfl.not_binds_tighter': '`not` applies to the left operand of a comparison, not to the comparison',
} as const;

export type KflWarningCode = keyof typeof kflWarningCodes;

/** Set when the fault is inside a user macro's text: the span then points into that text. */
export interface KflMacroOrigin {
  name: string;
  source: string;
  /** Where the macro was used, in the text that used it. */
  usedAt: KflSpan;
}

export class KflError extends Error {
  readonly code: KflErrorCode;
  readonly span: KflSpan;
  macro?: KflMacroOrigin;

  constructor(code: KflErrorCode, message: string, span: KflSpan) {
    super(message);
    this.name = 'KflError';
    this.code = code;
    this.span = span;
  }

  /** The object the API and `kfl check --json` return. */
  toJSON(): { code: KflErrorCode; message: string; span: KflSpan; macro?: KflMacroOrigin } {
    const out: { code: KflErrorCode; message: string; span: KflSpan; macro?: KflMacroOrigin } = {
      code: this.code,
      message: this.message,
      span: this.span,
    };
    if (this.macro) out.macro = this.macro;
    return out;
  }
}

export interface KflWarning {
  code: KflWarningCode;
  message: string;
  span: KflSpan;
}

/** The span of [start, end) in `source`, with its 1-based line and column. */
export function spanAt(source: string, start: number, end: number): KflSpan {
  let line = 1;
  let lineStart = 0;
  const stop = Math.min(start, source.length);
  for (let i = 0; i < stop; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { start, end, line, column: start - lineStart + 1 };
}

/**
 * The query's line that holds the span, with a caret line under the span:
 *
 *   line 1, col 10: kfl.expected_value: expected a value after 'and'
 *     http and
 *              ^
 */
export function formatKflError(query: string, err: { code: string; message: string; span: KflSpan; macro?: KflMacroOrigin }): string {
  const out: string[] = [];
  const text = err.macro ? err.macro.source : query;
  const where = err.macro ? `in macro '${err.macro.name}' ` : '';
  out.push(`${where}line ${err.span.line}, col ${err.span.column}: ${err.code}: ${err.message}`);
  out.push(...caretLines(text, err.span));
  if (err.macro) {
    out.push(`macro '${err.macro.name}' used at line ${err.macro.usedAt.line}, col ${err.macro.usedAt.column}:`);
    out.push(...caretLines(query, err.macro.usedAt));
  }
  return out.join('\n');
}

function caretLines(text: string, span: KflSpan): string[] {
  const lines = text.split('\n');
  const lineText = lines[span.line - 1] ?? '';
  const col = span.column - 1;
  // A span running past the end of its line is drawn to the line's end (plus one for "end of query").
  const width = Math.max(1, Math.min(span.end - span.start, lineText.length - col + 1));
  return ['  ' + lineText, '  ' + ' '.repeat(Math.max(0, col)) + '^'.repeat(width)];
}
