/**
 * ArrayBuffers that went to another thread and came back, kept to be filled again: a new
 * buffer costs a page fault for every 4 KiB written into it, and a free once collected
 * (src/pipeline/README.md "What moved in session 14").
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];

  /** Keeps at most `maxBuffers`; more given back are let go. */
  constructor(readonly maxBuffers: number) {}

  /** The smallest kept buffer of at least `bytes`, taken out of the pool, or undefined. */
  take(bytes: number): ArrayBuffer | undefined {
    const free = this.free;
    let best = -1;
    for (let i = 0; i < free.length; i++) {
      const n = free[i]!.byteLength;
      if (n >= bytes && (best < 0 || n < free[best]!.byteLength)) best = i;
    }
    if (best < 0) return undefined;
    const b = free[best]!;
    free[best] = free[free.length - 1]!;
    free.pop();
    return b;
  }

  /** A buffer nothing uses any more; false when it is let go (detached, or the pool is full). */
  give(buf: ArrayBuffer): boolean {
    if (buf.byteLength === 0 || this.free.length >= this.maxBuffers) return false;
    this.free.push(buf);
    return true;
  }
}
