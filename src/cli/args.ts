import { homedir } from 'node:os';
import { join } from 'node:path';

/** Problems with a command line: printed with the command's name, exit status 2. */
export class UsageError extends Error {}

/** `24h`, `30m`, `90s`, `7d` or plain seconds → seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag} takes a duration like 90s, 30m, 24h or 7d, not ${JSON.stringify(text)}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}

/** `500MB`, `2GB`, `64KiB` or plain bytes → bytes. */
export function parseSize(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|kB|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${flag} takes a size like 512MB or 2GiB, not ${JSON.stringify(text)}`);
  const unit = (m[2] ?? 'B').toLowerCase();
  const scale: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3, tb: 1e12, tib: 1024 ** 4 };
  return Math.floor(Number(m[1]) * scale[unit]);
}

/** A point in time: ms since the epoch, RFC 3339 text, `now`, or relative to now (`-15m`). */
export function parseTime(text: string, flag: string, now = Date.now()): number {
  const t = text.trim();
  if (t === 'now') return now;
  if (/^\d+$/.test(t)) return Number(t);
  const rel = /^-(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(t);
  if (rel) return now - parseDuration(rel[1] + rel[2], flag) * 1000;
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new UsageError(`${flag} takes ms since the epoch, RFC 3339 time, now, or -15m style, not ${JSON.stringify(text)}`);
  return ms;
}

/**
 * `--from -15m` as `--from=-15m`: node's parseArgs takes a value that starts with "-" only
 * joined to its flag, and these flags document exactly that form.
 */
export function joinDashValues(argv: readonly string[], flags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (flags.includes(a) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  if (!m || Number(m[3]) > 65535) throw new UsageError(`--listen takes HOST:PORT (e.g. 127.0.0.1:8899), not ${JSON.stringify(text)}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
}

/** Where a tap keeps its data unless told: $TAPLINE_DATA, else the XDG data folder. */
export function defaultDataDir(): string {
  return process.env.TAPLINE_DATA ?? join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'tapline');
}

export const DEFAULT_HUB = 'http://127.0.0.1:8899';
