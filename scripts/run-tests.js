#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's test runner.
// Extra arguments are passed on (e.g. --test-name-pattern).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

// Only tests whose TypeScript source still exists: a test file deleted or renamed in the
// tree leaves its compiled copy in dist/, which must not run (a fresh clone has none).
const all = find('dist', []).sort();
const files = all.filter((f) => existsSync(f.replace(/^dist[\\/]/, '').replace(/\.js$/, '.ts')));
for (const f of all) if (!files.includes(f)) console.error(`run-tests: skipping ${f}: its source is gone`);
if (files.length === 0) {
  console.error('no test files under dist/: run `npm run build` first');
  process.exit(1);
}
// A second reporter (TAP, to a file) gives the totals to check: under CI (CI=true), where
// the set-up installs every tool the tests need, a skipped test is a failure, since it
// passes without having checked anything (a missing tshark would skip every oracle test).
const tapFile = join(mkdtempSync(join(tmpdir(), 'tapline-tests-')), 'report.tap');
const r = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tapFile}`, ...process.argv.slice(2), ...files],
  { stdio: 'inherit' },
);
const skipped = Number(/^# skipped (\d+)$/m.exec(existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '')?.[1] ?? 0);
rmSync(dirname(tapFile), { recursive: true, force: true });
if (process.env.CI === 'true' && skipped > 0 && r.status === 0) {
  console.error(`run-tests: ${skipped} test(s) skipped under CI=true; every tool they need must be installed (bash scripts/setup.sh test)`);
  process.exit(1);
}
process.exit(r.status ?? 1);
