/** File system errors in the words a command prints. */

/** What an errno of opening or reading a file means, in the words a command prints. */
const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many symbolic links in the path',
  ENAMETOOLONG: 'the path is too long',
  EIO: 'an I/O error on the device',
};

/**
 * What went wrong, in words, when `e` is the file system's error (an errno code) from
 * opening, reading or writing a file (a capture, an export's output, a data folder);
 * undefined for any other error.
 */
export function fileErrorText(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) return undefined;
  return FILE_ERRORS[code] ?? `${(e as Error).message}`;
}
