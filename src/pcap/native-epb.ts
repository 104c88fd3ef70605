/**
 * The native half of the ring's live write path (native/pcap_binding.cc WriteEpbs): the
 * pcap records of a live batch go to a segment file as Enhanced Packet Blocks with
 * writev, straight from the batch. Loaded once; null where the addon is not built, and
 * the ring then copies the blocks through its writer (the same bytes).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { addonPath } from '../capture/live/addon.js';

/**
 * Writes the records of batch[start, end) (16-byte little-endian record headers) to `fd`
 * as EPBs of interface `iface` with ns timestamps; returns the bytes written. Throws an
 * Error whose `code` is the errno name when a write fails.
 */
export type WriteEpbs = (fd: number, batch: Buffer, start: number, end: number, nanos: boolean, iface: number) => number;

function load(): WriteEpbs | null {
  const path = addonPath();
  if (!existsSync(path)) return null;
  try {
    const fn = (createRequire(import.meta.url)(path) as { writeEpbs?: WriteEpbs }).writeEpbs;
    return typeof fn === 'function' ? fn : null;
  } catch {
    return null;
  }
}

export const nativeWriteEpbs: WriteEpbs | null = load();
