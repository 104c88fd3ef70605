import type { Writable } from 'node:stream';

/**
 * Collects output lines and writes them in large blocks: one write per line would cost
 * more than dissecting the packet. `drained()` lets the producer wait when the stream
 * (a pipe, a slow terminal) is full, so output never piles up in memory.
 */
export class BlockWriter {
  private parts: string[] = [];
  private size = 0;
  private full = false;

  constructor(
    private readonly out: Writable,
    private readonly blockSize = 256 * 1024,
  ) {}

  line(text: string): void {
    this.parts.push(text, '\n');
    this.size += text.length + 1;
    if (this.size >= this.blockSize) this.flush();
  }

  /** Text made of whole lines (each ending in a newline). */
  text(block: string): void {
    this.parts.push(block);
    this.size += block.length;
    if (this.size >= this.blockSize) this.flush();
  }

  flush(): void {
    if (this.size === 0) return;
    const block = this.parts.join('');
    this.parts = [];
    this.size = 0;
    if (!this.out.write(block)) this.full = true;
  }

  /** Resolves once the stream can take more (at once when it can). */
  drained(): Promise<void> | undefined {
    if (!this.full) return undefined;
    this.full = false;
    return new Promise((resolve) => this.out.once('drain', resolve));
  }

  /** Flushes and waits until everything written has been handed to the OS. */
  end(): Promise<void> {
    this.flush();
    return new Promise((resolve) => {
      if (this.out.writableNeedDrain) this.out.once('drain', () => resolve());
      else resolve();
    });
  }
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
