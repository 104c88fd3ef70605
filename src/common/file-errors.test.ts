import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileErrorText } from './file-errors.js';

test('fileErrorText: the file system\'s own errors in words, the message for an errno it has no words for, nothing for other errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapline-file-errors-'));
  try {
    const file = join(dir, 'f');
    writeFileSync(file, 'x');
    const thrown = (f: () => unknown): unknown => {
      try {
        f();
      } catch (e) {
        return e;
      }
      assert.fail('expected an error');
    };
    assert.equal(fileErrorText(thrown(() => openSync(join(dir, 'nope'), 'r'))), 'no such file');
    assert.equal(fileErrorText(thrown(() => openSync(join(file, 'x'), 'r'))), 'a part of the path is not a directory');
    assert.equal(fileErrorText(thrown(() => openSync(dir, 'w'))), 'a directory');
    assert.equal(fileErrorText(Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' })), 'EMFILE: too many open files');
    assert.equal(fileErrorText(new Error('not from the file system')), undefined);
    assert.equal(fileErrorText(Object.assign(new Error('x'), { code: 'capture.bad_filter' })), undefined);
    assert.equal(fileErrorText(null), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
