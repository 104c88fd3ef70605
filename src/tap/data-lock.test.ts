import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE, lockDataDir } from './data-lock.js';

function inTemp(body: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tapline-lock-'));
  return Promise.resolve(body(dir)).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('a data folder is held by one tap: the second is refused, and it is free again once released', () =>
  inTemp((dir) => {
    const lock = lockDataDir(dir);
    assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), `${process.pid}\n`);
    assert.throws(() => lockDataDir(dir), (e: Error & { code?: string }) => e.code === 'tap.data_in_use' && /in use by another tap in this process/.test(e.message));
    lock.release();
    assert.equal(existsSync(join(dir, LOCK_FILE)), false);
    lockDataDir(dir).release();
  }));

test('a lock held by a live tapline process refuses, naming its pid', () =>
  inTemp(async (dir) => {
    // A process whose command line says tapline, as `node bin/tapline.js tap` does.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)', 'tapline'], { stdio: 'ignore' });
    try {
      await new Promise((r) => other.once('spawn', r));
      writeFileSync(join(dir, LOCK_FILE), `${other.pid}\n`);
      assert.throws(() => lockDataDir(dir), (e: Error & { code?: string }) => e.code === 'tap.data_in_use' && e.message.includes(`pid ${other.pid}`));
    } finally {
      other.kill('SIGKILL');
    }
  }));

test('a lock left by a process that is gone, or whose pid now runs something else, is taken over', () =>
  inTemp((dir) => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(dir, LOCK_FILE), `${gone.stdout}\n`);
    const a = lockDataDir(dir);
    assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), `${process.pid}\n`);
    a.release();
    // pid 1 is alive and is not tapline.
    writeFileSync(join(dir, LOCK_FILE), '1\n');
    lockDataDir(dir).release();
    writeFileSync(join(dir, LOCK_FILE), 'garbage');
    lockDataDir(dir).release();
  }));
