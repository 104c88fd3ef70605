/**
 * A file written only by appending: the packet ring's segments and the store's entry
 * logs, which are written far more than read. Where the libpcap addon is built it is
 * native/direct_file.cc's DirectFile: appended bytes gather in an aligned buffer of its
 * own and go to disk with O_DIRECT, not through the page cache (src/pcap/README.md
 * "Direct writes" has why and the figures), and a live batch's records can become
 * Enhanced Packet Blocks right in that buffer (appendEpbs). Without the addon, or with
 * `native: false`, each append is a plain write.
 *
 * Either way, appended bytes are in the file once flush() or close() returns; before
 * that, up to the buffer's size of them may not be.
 */
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { pcapAddonPath } from './native.js';

export interface AppendFile {
  /** Appends bytes[start, end). */
  append(bytes: Uint8Array, start: number, end: number): void;
  /**
   * Appends the pcap records of batch[start, end) (16-byte little-endian record headers)
   * as PCAPNG Enhanced Packet Blocks of interface `iface` with ns timestamps; returns the
   * bytes appended. Null where the addon is not used.
   */
  readonly appendEpbs: ((batch: Buffer, start: number, end: number, nanos: boolean, iface: number) => number) | null;
  /** Puts every appended byte into the file. */
  flush(): void;
  /** Flushes and closes (closed also when the flush throws). */
  close(): void;
  /** Whether writes bypass the page cache (O_DIRECT). */
  readonly direct: boolean;
}

interface NativeDirectFile {
  write(bytes: Uint8Array, start: number, end: number): void;
  writeEpbs(batch: Buffer, start: number, end: number, nanos: boolean, iface: number): number;
  flush(): void;
  close(): void;
  readonly direct: boolean;
}

type DirectFileClass = new (path: string, bufferBytes: number) => NativeDirectFile;

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** The addon's error (`errno`, `syscall`, strerror's text) worded as Node's own fs errors: "ENOSPC: no space left on device, write", with `code`. */
function fsError(e: unknown): unknown {
  const { errno, syscall } = e as { errno?: unknown; syscall?: unknown };
  if (!(e instanceof Error) || typeof errno !== 'number') return e;
  const code = ERRNO_NAMES.get(errno) ?? `E${errno}`;
  const text = e.message.charAt(0).toLowerCase() + e.message.slice(1);
  const call = typeof syscall === 'string' ? syscall : 'write';
  return Object.assign(new Error(`${code}: ${text}, ${call}`), { code, errno, syscall: call });
}

function loadDirectFile(): DirectFileClass | null {
  const path = pcapAddonPath();
  if (!existsSync(path)) return null;
  try {
    const cls = (createRequire(import.meta.url)(path) as { DirectFile?: DirectFileClass }).DirectFile;
    return typeof cls === 'function' ? cls : null;
  } catch {
    return null;
  }
}

const DirectFile = loadDirectFile();

/** Whether append files are native (the addon is built and loads). */
export const nativeAppendFiles = DirectFile !== null;

/** Runs a call into the addon, its errors worded as Node's (fsError). */
function addonCall<T>(call: () => T): T {
  try {
    return call();
  } catch (e) {
    throw fsError(e);
  }
}

class NativeAppendFile implements AppendFile {
  private readonly f: NativeDirectFile;

  constructor(path: string, bufferBytes: number) {
    this.f = addonCall(() => new DirectFile!(path, bufferBytes));
  }

  get direct(): boolean {
    return this.f.direct;
  }

  append(bytes: Uint8Array, start: number, end: number): void {
    addonCall(() => this.f.write(bytes, start, end));
  }

  readonly appendEpbs = (batch: Buffer, start: number, end: number, nanos: boolean, iface: number): number => addonCall(() => this.f.writeEpbs(batch, start, end, nanos, iface));

  flush(): void {
    addonCall(() => this.f.flush());
  }

  close(): void {
    addonCall(() => this.f.close());
  }
}

/** Plain writes to a descriptor, unbuffered. */
class PlainAppendFile implements AppendFile {
  private fd: number;
  readonly appendEpbs = null;
  readonly direct = false;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  append(bytes: Uint8Array, start: number, end: number): void {
    if (this.fd < 0) throw new Error('append file: closed');
    for (let o = start; o < end; ) o += writeSync(this.fd, bytes, o, end - o);
  }

  flush(): void {}

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    closeSync(fd);
  }
}

/** Creates (or truncates) the file at `path`; `native: false` asks for plain writes. `bufferBytes` is rounded down to 4 KiB (at least 4 KiB). */
export function openAppendFile(path: string, opts: { bufferBytes: number; native: boolean }): AppendFile {
  return opts.native && DirectFile !== null ? new NativeAppendFile(path, Math.max(4096, opts.bufferBytes)) : new PlainAppendFile(path);
}
