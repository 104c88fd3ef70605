import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDirs } from './make-dirs.js';

test('makes every missing level, with the mode asked, and is a no-op on a folder that exists', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapline-make-dirs-'));
  try {
    const deep = join(dir, 'a', 'b', 'c');
    makeDirs(deep, 0o700);
    assert.ok(statSync(deep).isDirectory());
    assert.equal(statSync(join(dir, 'a')).mode & 0o777, 0o700 & ~process.umask());
    makeDirs(deep);
    makeDirs(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a path it cannot make is an error at once (fs.mkdirSync with recursive spins forever on the last two)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapline-make-dirs-'));
  try {
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    const dangling = join(dir, 'dangling');
    symlinkSync(join(dir, 'nowhere'), dangling);
    const cases: [string, string][] = [
      [join(file, 'sub'), 'ENOTDIR'],
      [join(dangling, 'sub'), 'ENOTDIR'],
      [dangling, 'ENOTDIR'],
    ];
    // procfs answers ENOENT for a child it cannot hold: the case that hung `tapline tap --data /proc/x`.
    if (statSync('/proc', { throwIfNoEntry: false })?.isDirectory()) cases.push(['/proc/tapline-no-such/data', 'ENOENT']);
    for (const [path, code] of cases) assert.throws(() => makeDirs(path), (e: unknown) => (e as { code?: string }).code === code, path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
