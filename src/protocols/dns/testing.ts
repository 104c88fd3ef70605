/**
 * Test helpers (not exported by index.ts): a tiny DNS encoder so unit fixtures read as
 * records rather than hex, and `hex()` for fixtures written as annotated hex dumps.
 */

/** Hex with spaces, newlines and `#` comments allowed. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/#[^\n]*/g, '').replace(/\s+/g, ''), 'hex');
}

/** A name in wire form, uncompressed; '.' or '' is the root. */
export function wireName(name: string): Buffer {
  const parts: Buffer[] = [];
  if (name !== '.' && name !== '') {
    for (const label of name.split('.')) parts.push(Buffer.from([label.length]), Buffer.from(label, 'latin1'));
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export interface HeaderFields {
  id: number;
  /** The 16 bits after the ID (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE). */
  flags: number;
  qd?: number;
  an?: number;
  ns?: number;
  ar?: number;
}

export function header(h: HeaderFields): Buffer {
  return Buffer.concat([u16(h.id), u16(h.flags), u16(h.qd ?? 0), u16(h.an ?? 0), u16(h.ns ?? 0), u16(h.ar ?? 0)]);
}

export function question(name: string, type: number, cls = 1): Buffer {
  return Buffer.concat([wireName(name), u16(type), u16(cls)]);
}

/** A record with an uncompressed owner name (or raw owner bytes). */
export function rr(owner: string | Buffer, type: number, cls: number, ttl: number, rdata: Buffer): Buffer {
  const name = typeof owner === 'string' ? wireName(owner) : owner;
  return Buffer.concat([name, u16(type), u16(cls), u32(ttl), u16(rdata.length), rdata]);
}

/** One query message: flags 0x0100 (RD). */
export function query(id: number, name: string, type: number, flags = 0x0100): Buffer {
  return Buffer.concat([header({ id, flags, qd: 1 }), question(name, type)]);
}

/** One response (flags 0x8180: QR, RD, RA) echoing the question, with the given answers. */
export function response(id: number, name: string, type: number, answers: Buffer[] = [], rcode = 0): Buffer {
  return Buffer.concat([header({ id, flags: 0x8180 | rcode, qd: 1, an: answers.length }), question(name, type), ...answers]);
}

/** The two-byte length prefix of DNS over TCP (RFC 1035 4.2.2). */
export function framed(msg: Buffer): Buffer {
  return Buffer.concat([u16(msg.length), msg]);
}
