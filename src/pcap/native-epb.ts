/**
 * The native half of the ring's live write path (native/pcap_binding.cc WriteEpbs): the
 * pcap records of a live batch go to a segment file as Enhanced Packet Blocks with
 * writev, straight from the batch. Loaded once; null where the addon is not built, and
 * the ring then copies the blocks through its writer (the same bytes).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { addonPath } from '../capture/live/index.js';

/**
 * Writes the records of batch[start, end) (16-byte little-endian record headers) to `fd`
 * as EPBs of interface `iface` with ns timestamps; returns the bytes written. Throws an
 * Error whose `code` is the errno name when a write fails.
 */
export type WriteEpbs = (fd: number, batch: Buffer, start: number, end: number, nanos: boolean, iface: number) => number;

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** The addon's error (`errno`, strerror's text) worded as Node's own fs errors: "ENOSPC: no space left on device, writev", with `code`. */
function fsError(e: unknown): unknown {
  const errno = (e as { errno?: unknown }).errno;
  if (!(e instanceof Error) || typeof errno !== 'number') return e;
  const code = ERRNO_NAMES.get(errno) ?? `E${errno}`;
  const text = e.message.charAt(0).toLowerCase() + e.message.slice(1);
  return Object.assign(new Error(`${code}: ${text}, writev`), { code, errno, syscall: 'writev' });
}

function load(): WriteEpbs | null {
  const path = addonPath();
  if (!existsSync(path)) return null;
  try {
    const fn = (createRequire(import.meta.url)(path) as { writeEpbs?: WriteEpbs }).writeEpbs;
    if (typeof fn !== 'function') return null;
    return (fd, batch, start, end, nanos, iface) => {
      try {
        return fn(fd, batch, start, end, nanos, iface);
      } catch (e) {
        throw fsError(e);
      }
    };
  } catch {
    return null;
  }
}

export const nativeWriteEpbs: WriteEpbs | null = load();
