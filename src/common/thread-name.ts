import { writeFileSync } from 'node:fs';

/**
 * Names the calling thread as `top -H`, `ps -L` and /proc show it, so that an operator
 * (and the benchmark) can tell the capture, dissection and store threads apart: Node names
 * every thread `node`. Linux keeps at most 15 bytes. A thread may rename itself through
 * /proc/thread-self/comm; elsewhere, or without /proc, nothing happens.
 */
export function nameThread(name: string): void {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
  } catch {
    // Not Linux, or /proc is not mounted: the name is only a convenience.
  }
}
