/**
 * Bodies an entry's parser left for its reader: with ParserSettings.deferGzipBodies an
 * HTTP gzip body travels and is stored compressed (`deferred` in place of postData /
 * content), and is decoded here, when the entry is read, into exactly what the parser
 * would have made of it (replayDeferred runs the same BodyCollector over the same bytes).
 */
import { bodyContent, replayDeferred, type BodyResult, type DeferredBody } from '../protocols/http/body.js';
import { BODY_SIDES, type BodyKey } from './body-sides.js';
import type { Entry } from './entry.js';

type Side = Record<string, unknown> | undefined;

function deferredOf(side: Side, key: BodyKey): DeferredBody | undefined {
  const body = side?.[key] as { deferred?: DeferredBody } | undefined;
  return body?.deferred;
}

/** Whether `entry` holds a body still to decode. */
export function hasDeferred(entry: Entry): boolean {
  // A loop, not some(): this runs for every entry the tap stores.
  for (const [side, key] of BODY_SIDES) if (deferredOf(entry[side] as Side, key) !== undefined) return true;
  return false;
}

/** A Buffer over the bytes of a Uint8Array (what V8's deserializer may hand back). */
const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/**
 * Makes the deferred bodies of `entry` read as decoded (sizes, text, marks and issues as
 * the parser would have set them) and returns it. The decoding is lazy: it happens the
 * first time one of the properties it sets is read (`bodySize`, `postData` / `content`,
 * `issues`), so a query that never looks at them, such as `request.method == "GET"`
 * over a million stored entries, does not inflate a single body.
 */
export function resolveDeferred(entry: Entry): Entry {
  // What each side holds is taken now: once the accessors are in place, reading it would decode.
  const sides: { side: Record<string, unknown>; key: BodyKey; withSize: boolean; mimeType: string; d: DeferredBody }[] = [];
  for (const [sideKey, key] of BODY_SIDES) {
    const side = entry[sideKey] as Side;
    // HAR gives the response's content a size of its own.
    const withSize = sideKey === 'response';
    const d = deferredOf(side, key);
    if (side !== undefined && d !== undefined) sides.push({ side, key, withSize, mimeType: (side[key] as { mimeType: string }).mimeType, d });
  }
  if (sides.length === 0) return entry;
  const holder = entry as unknown as Record<string, unknown>;
  const before = entry.issues;
  let done = false;
  const resolve = (): void => {
    if (done) return;
    done = true;
    const issues = before === undefined ? [] : [...before];
    for (const { side, key, withSize, mimeType, d } of sides) {
      let body: BodyResult;
      try {
        body = replayDeferred({ ...d, bytes: asBuffer(d.bytes), tail: asBuffer(d.tail) });
      } catch {
        // Stored data that is not what a parser wrote: an undecodable body, never a read that throws.
        body = { size: 0, kept: Buffer.alloc(0), truncated: true, raw: false, issues: ['http.bad_content_encoding'] };
      }
      setValue(side, 'bodySize', body.size);
      setValue(side, key, bodyContent(mimeType, body, withSize));
      // tcp.gap was known, and counted, when the body streamed past.
      for (const code of body.issues ?? []) if (code !== 'tcp.gap' && !issues.includes(code)) issues.push(code);
    }
    if (issues.length > 0) setValue(holder, 'issues', issues);
    else delete holder.issues;
  };
  const lazy = (o: Record<string, unknown>, key: string): void => {
    Object.defineProperty(o, key, {
      enumerable: true,
      configurable: true,
      get() {
        resolve();
        return o[key];
      },
      set(v: unknown) {
        resolve();
        o[key] = v;
      },
    });
  };
  for (const { side, key } of sides) {
    lazy(side, 'bodySize');
    lazy(side, key);
  }
  lazy(holder, 'issues');
  return entry;
}

/** Replaces an accessor (or value) with a plain data property, in its place among the keys. */
function setValue(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
}
