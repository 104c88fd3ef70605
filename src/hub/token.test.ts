import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadOrCreateToken, tokenMatches, tokenOfRequest } from './token.js';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'hub-token-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('token', () => {
  test('made once (32 random bytes, base64url, file 0600 in a 0700 folder), then reused', () =>
    withDir((root) => {
      const dir = join(root, 'data');
      const first = loadOrCreateToken(dir);
      assert.equal(first.created, true);
      assert.equal(first.path, join(dir, 'token'));
      assert.match(first.token, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(first.token, 'base64url').length, 32);
      assert.equal(readFileSync(first.path, 'utf8'), first.token + '\n');
      assert.equal(statSync(first.path).mode & 0o777, 0o600);
      assert.equal(statSync(dir).mode & 0o777, 0o700);

      const again = loadOrCreateToken(dir);
      assert.deepEqual(again, { token: first.token, created: false, path: first.path });

      const other = loadOrCreateToken(join(root, 'other'));
      assert.notEqual(other.token, first.token);
    }));

  test('a token file someone wrote is used as is, and its mode is tightened', () =>
    withDir((dir) => {
      const path = join(dir, 'token');
      writeFileSync(path, 'my-own-token\n');
      chmodSync(path, 0o644);
      assert.deepEqual(loadOrCreateToken(dir), { token: 'my-own-token', created: false, path });
      assert.equal(statSync(path).mode & 0o777, 0o600);
    }));

  test('an empty token file is hub.bad_token_file, not silently replaced', () =>
    withDir((dir) => {
      writeFileSync(join(dir, 'token'), '  \n');
      assert.throws(() => loadOrCreateToken(dir), { code: 'hub.bad_token_file' });
      assert.equal(readFileSync(join(dir, 'token'), 'utf8'), '  \n');
    }));

  test('comparison: equal only when equal, whatever the lengths', () => {
    assert.equal(tokenMatches('abc', 'abc'), true);
    assert.equal(tokenMatches('abc', 'abd'), false);
    assert.equal(tokenMatches('abc', 'ab'), false);
    assert.equal(tokenMatches('abc', 'abcd'), false);
    assert.equal(tokenMatches('abc', ''), false);
  });

  test('the header wins over ?token=; other schemes are not tokens', () => {
    assert.equal(tokenOfRequest({ authorization: 'Bearer h' }, { token: 'q' }), 'h');
    assert.equal(tokenOfRequest({ authorization: 'BEARER  h ' }, {}), 'h');
    assert.equal(tokenOfRequest({}, { token: 'q' }), 'q');
    assert.equal(tokenOfRequest({ authorization: 'Basic dXNlcjpwYXNz' }, {}), undefined);
    assert.equal(tokenOfRequest({ authorization: 'Bearer a b' }, {}), undefined);
    assert.equal(tokenOfRequest({}, { token: ['a', 'b'] }), undefined);
  });
});
