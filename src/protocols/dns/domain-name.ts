/**
 * Domain names on the wire (RFC 1035 3.1, 4.1.4): label sequences, compression
 * pointers, and their text form. One name is read per call; the outcome sits in
 * module state (`nameEnd`, `nameIssue`) so the hot path allocates only the string.
 */

/** Offset just past the name at its own position (after the first pointer, if any). */
export let nameEnd = 0;
/** '' when the name was read; otherwise the issue code that stopped it. */
export let nameIssue = '';

/** RFC 1035 2.3.4: "names 255 octets or less" (wire form: length octets, labels and the root). */
export const MAX_NAME_OCTETS = 255;

// Escapes for every byte value, made once: '' means "the byte stands for itself".
const ESCAPES: string[] = (() => {
  const out: string[] = [];
  for (let b = 0; b < 256; b++) {
    if (b === 0x2e || b === 0x5c || b < 0x21 || b > 0x7e) {
      // dig prints a backslash as "\\" and other odd bytes as three decimal digits.
      out.push(b === 0x5c ? '\\\\' : '\\' + String(b).padStart(3, '0'));
    } else {
      out.push('');
    }
  }
  return out;
})();

// Each byte as a one-character string, so short labels are built without a native call.
const CHARS: string[] = Array.from({ length: 256 }, (_, b) => String.fromCharCode(b));

/** Labels up to this length are built a character at a time (cheaper than Buffer#toString for short ones). */
const SHORT_LABEL = 24;

/** One label as text, '.' and unprintable bytes escaped like dig (`\046`, `\000`). */
export function labelText(buf: Buffer, start: number, end: number): string {
  let i = start;
  if (end - start <= SHORT_LABEL) {
    let out = '';
    for (; i < end; i++) {
      const esc = ESCAPES[buf[i]];
      out += esc === '' ? CHARS[buf[i]] : esc;
    }
    return out;
  }
  while (i < end && ESCAPES[buf[i]] === '') i++;
  if (i === end) return buf.toString('latin1', start, end);
  let out = buf.toString('latin1', start, i);
  for (; i < end; i++) {
    const esc = ESCAPES[buf[i]];
    out += esc === '' ? CHARS[buf[i]] : esc;
  }
  return out;
}

/**
 * Reads the name at `off`; `msgStart` is where the message's header begins (pointers
 * are offsets from it) and `end` where the message ends. Returns the name without its
 * trailing dot ('.' for the root), or '' with `nameIssue` set.
 */
export function readName(buf: Buffer, msgStart: number, off: number, end: number, maxHops: number): string {
  let name = '';
  let octets = 1; // the root label's length octet
  let hops = 0;
  // Lowest offset read so far: a pointer must land strictly before it, which is what
  // makes loops impossible (every jump goes to bytes not yet visited).
  let lowest = off;
  let pos = off;
  nameEnd = -1;
  nameIssue = '';
  for (;;) {
    if (pos >= end) return fail('dns.truncated');
    const len = buf[pos];
    if (len === 0) {
      if (nameEnd < 0) nameEnd = pos + 1;
      return name === '' ? '.' : name;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      // RFC 1035 4.1.4: "The first two bits are ones. This allows a pointer to be
      // distinguished from a label, since the label must begin with two zero bits".
      if (pos + 1 >= end) return fail('dns.truncated');
      if (nameEnd < 0) nameEnd = pos + 2;
      const target = msgStart + (((len & 0x3f) << 8) | buf[pos + 1]);
      // RFC 1035 4.1.4: "a pointer to a prior occurance of the same name" — only prior
      // bytes; anything else is a forward reference or a loop.
      if (target >= lowest) return fail('dns.bad_pointer');
      if (++hops > maxHops) return fail('dns.bad_pointer');
      lowest = target;
      pos = target;
      continue;
    }
    // 01 and 10 are the RFC 2671/6891 extended label types, none of which is in use.
    if (kind !== 0) return fail('dns.bad_label_type');
    octets += len + 1;
    // RFC 1035 3.1: "To simplify implementations, the total length of a domain name
    // (i.e., label octets and label length octets) is restricted to 255 octets or less."
    if (octets > MAX_NAME_OCTETS) return fail('dns.name_too_long');
    if (pos + 1 + len > end) return fail('dns.truncated');
    const label = labelText(buf, pos + 1, pos + 1 + len);
    name = name === '' ? label : name + '.' + label;
    pos += 1 + len;
  }
}

function fail(code: string): string {
  nameIssue = code;
  return '';
}

/**
 * Steps over the name at `off` without reading its text (records past a limit).
 * Returns the offset after it, or -1 when the message ends first.
 */
export function skipName(buf: Buffer, off: number, end: number): number {
  let pos = off;
  while (pos < end) {
    const len = buf[pos];
    if (len === 0) return pos + 1;
    if ((len & 0xc0) === 0xc0) return pos + 2 <= end ? pos + 2 : -1;
    if ((len & 0xc0) !== 0) return -1;
    pos += 1 + len;
  }
  return -1;
}
