/**
 * Unsigned integers from bytes, for the per-packet path. Buffer#readUInt16BE and its
 * kin validate their offset through a call on every read; on the packet path each
 * header's length is checked before its fields are read, so these read the bytes
 * directly (the callers guarantee `off` and the bytes after it are inside `b`).
 */
export function u16be(b: Uint8Array, off: number): number {
  return (b[off] << 8) | b[off + 1];
}

export function u16le(b: Uint8Array, off: number): number {
  return b[off] | (b[off + 1] << 8);
}

export function u32be(b: Uint8Array, off: number): number {
  return b[off] * 0x1000000 + ((b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]);
}

export function u32le(b: Uint8Array, off: number): number {
  return b[off + 3] * 0x1000000 + ((b[off + 2] << 16) | (b[off + 1] << 8) | b[off]);
}

/** Writes `v` (0 .. 2^32 - 1) at `b[off, off + 4)`, little-endian; the caller guarantees the room. */
export function put32le(b: Uint8Array, off: number, v: number): void {
  b[off] = v;
  b[off + 1] = v >>> 8;
  b[off + 2] = v >>> 16;
  b[off + 3] = v >>> 24;
}
