import type { FdLineWriter, LineBlock } from './fd-writer.js';

/**
 * The lines of a reader that dissects on several threads (`tapline read --workers N`), in
 * an order that depends only on the input, never on which thread was quicker: the same
 * file gives the same output.
 *
 * The reading thread hands packets out in batches (pipeline/parallel.ts); each thread
 * sends the lines it made of a batch back with the batch's acknowledgement. Those lines
 * are written in the order the batches left, each as soon as every batch before it is
 * back, so at most the batches in flight wait here. Lines a thread makes with no batch (a
 * clock tick, its flows closed at the end) come last, in thread order.
 */
export class OrderedOutput {
  /** Batches whose lines are not written yet, in the order they left. */
  private readonly queue: Pending[] = [];
  /** Per thread, its batches not back yet, oldest first. */
  private readonly waiting: Pending[][];
  /** Per thread, lines that came with no batch: written at the end. */
  private readonly extra: LineBlock[][];

  constructor(
    private readonly out: FdLineWriter,
    threads: number,
  ) {
    this.waiting = Array.from({ length: threads }, () => []);
    this.extra = Array.from({ length: threads }, () => []);
  }

  /** A batch left for `thread`. */
  batchSent(thread: number): void {
    const pending: Pending = { lines: undefined };
    this.queue.push(pending);
    this.waiting[thread].push(pending);
  }

  /** `thread` sent `lines` after a batch (the oldest it had), a clock tick or the end. */
  linesFrom(thread: number, lines: LineBlock[], after: 'batch' | 'clock' | 'end'): void {
    const pending = after === 'batch' ? this.waiting[thread].shift() : undefined;
    if (pending === undefined) {
      this.extra[thread].push(...lines);
      return;
    }
    pending.lines = lines;
    let n = 0;
    while (n < this.queue.length && this.queue[n].lines !== undefined) this.write(this.queue[n++].lines!);
    if (n > 0) this.queue.splice(0, n);
  }

  /** End of input: what is still here (a batch whose thread failed never comes back), then each thread's extra lines. */
  end(): void {
    for (const pending of this.queue.splice(0)) this.write(pending.lines ?? []);
    for (const blocks of this.extra) this.write(blocks.splice(0));
    this.out.flush();
  }

  /** Batches whose lines wait to be written (for tests: what is held). */
  get pending(): number {
    return this.queue.length;
  }

  private write(blocks: LineBlock[]): void {
    for (const block of blocks) this.out.writeBlock(block);
  }
}

interface Pending {
  /** The batch's lines, once it is back. */
  lines: LineBlock[] | undefined;
}
