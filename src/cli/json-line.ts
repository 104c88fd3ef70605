/**
 * An entry as one line of JSON, with its body text written from the body's bytes.
 *
 * Bodies are most of what `tapline read` prints. Their text is still bytes when the
 * printer gets the entry (lazyText), and the json_text addon writes those bytes into the
 * output as a JSON string in one pass: the same bytes JSON.stringify of the decoded text
 * would give (src/cli/json-line.test.ts holds it to that), without making the string.
 * Where the addon is not built, the entry goes through JSON.stringify as a whole.
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { nativeAddonPath } from '../common/native.js';
import { stringifyMarked, type PendingText } from '../protocols/http/lazy-text.js';

/**
 * Writes the JSON string body (no quotes) of src's UTF-8 text, or of src in base64, at
 * dst[offset]; returns the offset after it. Needs 6 bytes of room per byte of src.
 */
export type WriteJsonText = (src: Buffer, dst: Buffer, offset: number, base64: boolean) => number;

/** JSON text can grow a byte of body to at most this many bytes (a control byte becomes \u00xx). */
export const JSON_TEXT_GROWTH = 6;

function loadWriter(): WriteJsonText | null {
  const path = nativeAddonPath('json_text');
  if (!existsSync(path)) return null;
  try {
    return (createRequire(import.meta.url)(path) as { writeJsonText: WriteJsonText }).writeJsonText;
  } catch {
    return null;
  }
}

/** The addon's writer, or null where it is not built (then lines come from JSON.stringify alone). */
export const nativeJsonText: WriteJsonText | null = loadWriter();

/**
 * The JSON line of `entry`, in parts: strings to write as UTF-8, and body texts still as
 * bytes to write with WriteJsonText, in order. A body stands between the quotes of its string.
 */
export type JsonParts = (string | PendingText)[];

/**
 * A mark no captured text can forge (128 random bits): what stands in for a body's text
 * while the rest is serialized. Plain ASCII, so JSON.stringify copies it as it is and its
 * quoted form is known without asking. The random part comes from the kernel directly:
 * `crypto.randomUUID()` first sets up OpenSSL's generator, 3 ms of a `tapline read`'s start.
 */
const MARK = `tapline-body-${randomHex(16)}-`;

/** The marks of an entry's first bodies, quoted as they appear in its JSON. */
const QUOTED = Array.from({ length: 4 }, (_, i) => `"${MARK}${i}"`);

function randomHex(bytes: number): string {
  const buf = Buffer.alloc(bytes);
  const fd = openSync('/dev/urandom', 'r');
  try {
    readSync(fd, buf);
  } finally {
    closeSync(fd);
  }
  return buf.toString('hex');
}

export function entryJsonParts(entry: object, writer: WriteJsonText | null = nativeJsonText): JsonParts {
  if (writer === null) return [JSON.stringify(entry)];
  const { json, texts } = stringifyMarked(entry, MARK);
  if (texts.length === 0) return [json];
  // Each mark, quotes included, appears once and in order; the body goes between the quotes.
  const parts: JsonParts = [];
  let from = 0;
  for (let i = 0; i < texts.length; i++) {
    const quoted = i < QUOTED.length ? QUOTED[i]! : `"${MARK}${i}"`;
    const at = json.indexOf(quoted, from);
    if (at === -1) return [JSON.stringify(entry)]; // not reached as a string (a toJSON on the way changed it)
    parts.push(json.slice(from, at + 1), texts[i]!);
    from = at + quoted.length - 1;
  }
  parts.push(json.slice(from));
  return parts;
}
