/**
 * The API token: made once at first start, kept in the data folder, compared in constant
 * time. Whoever can read `<dataDir>/token` can use the API, so the file is 0600 in a 0700
 * folder, as ssh keeps its keys.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HubError } from './errors.js';
import { makeDirs } from '../common/make-dirs.js';

export const TOKEN_FILE = 'token';
/** 32 random bytes: 256 bits, beyond any guessing. */
export const TOKEN_BYTES = 32;

/** Throws `hub.bad_token` unless the token can be sent in a header and a query string as is. */
export function checkToken(token: string): void {
  if (typeof token !== 'string' || token.length === 0 || /[\s]/.test(token)) {
    throw new HubError('hub.bad_token', 'the API token must be a non-empty string without whitespace');
  }
}

/**
 * The token in `<dataDir>/token`, made (random, base64url) when the file does not exist.
 * `created` tells the caller to print it. A file that exists but holds no usable token is
 * a configuration fault (`hub.bad_token_file`): silently replacing it would lock out every
 * client that has the old one.
 */
export function loadOrCreateToken(dataDir: string): { token: string; created: boolean; path: string } {
  makeDirs(dataDir, 0o700);
  const path = join(dataDir, TOKEN_FILE);
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  try {
    // 'wx' fails when the file exists, so two taps starting at once agree on one token.
    writeFileSync(path, token + '\n', { flag: 'wx', mode: 0o600 });
    return { token, created: true, path };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const kept = readFileSync(path, 'utf8').trim();
  try {
    checkToken(kept);
  } catch {
    throw new HubError('hub.bad_token_file', `${path} holds no usable token: delete it to make a new one`);
  }
  // A copy or a umask may have widened the mode; the token is a password.
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return { token: kept, created: false, path };
}

/**
 * Constant-time comparison. Both sides are hashed first so that the comparison takes the
 * same time whatever the length of what the client sent.
 */
export function tokenMatches(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

/** The token a request carries: `Authorization: Bearer T` first, else `?token=T`. */
export function tokenOfRequest(headers: Record<string, string | string[] | undefined>, query: unknown): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    // RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 7235 §2.1).
    const m = /^bearer +(\S+) *$/i.exec(auth);
    if (m) return m[1];
  }
  if (query && typeof query === 'object') {
    const t = (query as Record<string, unknown>).token;
    if (typeof t === 'string') return t;
  }
  return undefined;
}
