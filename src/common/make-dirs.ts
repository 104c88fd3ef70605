/**
 * `mkdir -p` that always ends. Node's own `mkdir(path, { recursive: true })` never returns
 * when a parent exists but cannot hold children: under /proc, or below a dangling symbolic
 * link, the child's mkdir gives ENOENT, the walk goes back and creates the parent (EEXIST,
 * taken as done), tries the child again, and spins at 100 % CPU forever (measured on Node
 * 20: `tapline tap --data /proc/x` hung before printing anything; the same loop is known in
 * nodejs/node for Windows drives and in Bun's port of it). Here each missing level is made
 * once, from the deepest folder that exists down, and the first failure is thrown.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** A level of the path that is there but is no folder; `code` is ENOTDIR, as the file system would say. */
export class NotAFolderError extends Error {
  readonly code = 'ENOTDIR';
  readonly syscall = 'mkdir';

  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'NotAFolderError';
  }
}

/** What is at `path`: a folder, something else, or nothing (a dangling link is nothing). */
function kindOf(path: string): 'folder' | 'other' | 'none' {
  try {
    return statSync(path).isDirectory() ? 'folder' : 'other';
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return 'none';
    throw e;
  }
}

/** Makes `path` and the folders above it that are missing; `mode` applies to those it makes. */
export function makeDirs(path: string, mode?: number): void {
  const target = resolve(path);
  const missing: string[] = [];
  for (let dir = target; ; dir = dirname(dir)) {
    const kind = kindOf(dir);
    if (kind === 'folder') break;
    if (kind === 'other') throw new NotAFolderError(`${dir} is not a folder`, target);
    missing.push(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir, mode === undefined ? undefined : { mode });
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
      // Made meanwhile by someone else (fine), or a link to nowhere (not fine).
      if (kindOf(dir) !== 'folder') throw new NotAFolderError(`${dir} is there but is not a folder (a link to nowhere?)`, target);
    }
  }
}
