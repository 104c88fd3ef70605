/**
 * Bad input: every capture of tcpdump's own test suite (../shared/corpus/tcpdump, 830 files,
 * many crafted to crash packet parsers) is read by the real `tapline read`, each in its own
 * process with a time and a heap limit. Each must give entries (possibly none) or a clear
 * error that names the file and the byte offset — never a crash, a hang or a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { corpusDir, repoRoot } from './support/paths.js';

const TIME_LIMIT_MS = 30_000;
const HEAP_LIMIT_MB = 256;

interface Outcome {
  file: string;
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

function readOne(file: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_LIMIT_MB}`, join(repoRoot, 'bin/tapline.js'), 'read', file, '--workers', '0', '--summary-json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, TIME_LIMIT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ file, code, signal, timedOut, stdout, stderr });
    });
  });
}

async function pool<T, R>(items: T[], width: number, work: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]);
      }
    }),
  );
  return out;
}

test('every corpus capture is read without a crash, a hang or unbounded memory', { timeout: 30 * 60_000 }, async () => {
  const files = readdirSync(corpusDir)
    .filter((f) => /\.(pcap|pcapng)$/.test(f) || f.endsWith('.tcpdump'))
    .sort()
    .map((f) => join(corpusDir, f));
  // 830 captures, and LICENSE.tcpdump: a text file must be refused as clearly as a damaged capture.
  assert.ok(files.length >= 831, `corpus has ${files.length} files`);
  const outcomes = await pool(files, 2, readOne);
  const problems: string[] = [];
  let withEntries = 0;
  let refused = 0;
  for (const o of outcomes) {
    const name = o.file.slice(corpusDir.length + 1);
    if (o.timedOut) problems.push(`${name}: no answer within ${TIME_LIMIT_MS} ms`);
    else if (o.code !== 0 && o.code !== 1) problems.push(`${name}: exit ${o.code} signal ${o.signal}: ${o.stderr.slice(-400)}`);
    else if (/\n\s+at /.test(o.stderr)) problems.push(`${name}: stack trace on stderr: ${o.stderr.slice(0, 400)}`);
    else {
      const summary = JSON.parse(o.stderr.split('\n').find((l) => l.startsWith('{'))!);
      assert.equal(summary.file, o.file);
      if (o.code === 1) {
        refused++;
        // The clear error: names the file, the byte offset and a code.
        assert.match(o.stderr, new RegExp(`tapline read: ${o.file.replace(/[.+]/g, '\\$&')}: .+at byte offset \\d+.*\\[[a-z]+\\.[a-z_]+\\]`), name);
      }
      const lines = o.stdout.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, summary.entries, `${name}: entries printed = entries counted`);
      for (const line of lines) {
        const e = JSON.parse(line);
        assert.equal(typeof e.id, 'string', name);
        assert.ok(['http', 'dns'].includes(e.protocol.name), `${name}: protocol ${e.protocol.name}`);
      }
      if (lines.length > 0) withEntries++;
    }
  }
  assert.deepEqual(problems, []);
  // The corpus holds HTTP and DNS captures: a reader that silently gave up everywhere would show here.
  assert.ok(withEntries >= 20, `only ${withEntries} files gave entries`);
  console.log(`corpus: ${outcomes.length} files, ${withEntries} gave entries, ${refused} refused with an error naming the offset`);
});
