import { readdirSync, readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The calling thread's id (Linux: "/proc/thread-self" links to "PID/task/TID"), or undefined without /proc. */
export function currentThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Gives the calling thread, and only it, a nice value (Linux schedules threads as tasks:
 * setpriority(2) on a thread id changes that thread). Returns the thread id, or undefined
 * where this cannot be done (no /proc, not Linux, or a value the process may not take).
 */
export function setThreadNice(nice: number): number | undefined {
  const tid = currentThreadId();
  if (tid === undefined) return undefined;
  try {
    setPriority(tid, nice);
    return tid;
  } catch {
    return undefined;
  }
}

/**
 * Gives every thread the process has now, except the calling one, a nice value; threads
 * started later inherit the caller's own. Returns how many threads were changed (0 where
 * this cannot be done).
 */
export function setOtherThreadsNice(nice: number): number {
  const self = currentThreadId();
  if (self === undefined) return 0;
  let changed = 0;
  for (const name of readdirSync('/proc/self/task')) {
    const tid = Number(name);
    if (tid === self) continue;
    try {
      setPriority(tid, nice);
      changed++;
    } catch {
      // The thread ended since the listing.
    }
  }
  return changed;
}
