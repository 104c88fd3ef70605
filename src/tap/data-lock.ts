/**
 * One tap per data folder. Two taps writing the same folder would number their packet ring
 * segments and entry log files alike and overwrite each other's, so the second one is
 * refused at start, naming the first. The lock is a file holding the owner's pid: a
 * SIGKILL leaves it behind, so a lock whose process is gone (or is no longer a tapline
 * process: pids are reused) is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const LOCK_FILE = 'tap.lock';

export class DataLockError extends Error {
  readonly code = 'tap.data_in_use';
}

/** The data folder cannot be made or is not a folder (tap.bad_data_dir). */
export class DataDirError extends Error {
  readonly code = 'tap.bad_data_dir';
}

/** Folders this process holds (a second tap in the same process is refused too). */
const held = new Set<string>();

export interface DataLock {
  release(): void;
}

/** Whether `pid` is a live process that runs tapline (true where /proc cannot tell). */
function liveTapline(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists, under another user.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('tapline');
  } catch {
    return true;
  }
}

export function lockDataDir(dir: string): DataLock {
  const key = resolve(dir);
  const path = join(key, LOCK_FILE);
  if (held.has(key)) throw new DataLockError(`the data folder ${dir} is in use by another tap in this process; give each tap its own --data`);
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Taken again between our clearing a stale lock and our claim: another tap is starting.
      if (attempt > 0) throw new DataLockError(`the data folder ${dir} is being taken by another tapline tap; give each tap its own --data`);
      let owner = NaN;
      try {
        owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
      } catch {
        // gone meanwhile, or unreadable: try again once
      }
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && liveTapline(owner)) {
        throw new DataLockError(`the data folder ${dir} is in use by another tapline tap (pid ${owner}); give each tap its own --data`);
      }
      // Left by a tap that is gone.
      try {
        unlinkSync(path);
      } catch {
        // another starter took it over first: the next open tells
      }
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    held.add(key);
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        held.delete(key);
        try {
          if (Number.parseInt(readFileSync(path, 'utf8'), 10) === process.pid) unlinkSync(path);
        } catch {
          // already gone
        }
      },
    };
  }
}
