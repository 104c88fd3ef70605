#!/usr/bin/env node
// Bundles the compiled command (dist/src, from tsc) into dist/cli: the `tapline` command
// and each module a worker thread starts, with the modules they share in chunks.
//
// Node loads an ES module graph one file at a time (resolve, read, compile, link): for
// `tapline read` about a hundred of our files, 0.045 s of every run. Bundled, the start
// of `tapline read` on a small file went from 0.13 to 0.09-0.10 s (Node alone: 0.05 s),
// and the benchmark capture from 0.81 to 0.74 s (median of 8 alternated runs, with KFL
// and libpcap's filter loaded only when asked for). Packages from node_modules are left
// to Node to load as they are (better-sqlite3 and the native addons find files by path).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { build } from 'esbuild';

const OUT = 'dist/cli';

/**
 * The modules worker threads are started on, found where they are started:
 * siblingModule(import.meta.url, 'name') and new URL('./name.js', import.meta.url). In the
 * bundle each is an entry of its own in OUT, beside the chunk that starts it, so both
 * forms find it there.
 */
function workerModules() {
  const found = new Set();
  const visit = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) visit(path);
      else if (e.name.endsWith('.js') && !e.name.endsWith('.test.js')) {
        const text = readFileSync(path, 'utf8');
        for (const m of text.matchAll(/siblingModule\(import\.meta\.url, '([\w-]+)'\)|new URL\('\.\/([\w-]+)\.js', import\.meta\.url\)/g)) {
          found.add(join(dirname(path), `${m[1] ?? m[2]}.js`));
        }
      }
    }
  };
  visit('dist/src');
  return [...found];
}

const entries = ['dist/src/cli/main.js', ...workerModules()];
const names = entries.map((e) => basename(e));
const clash = names.find((n, i) => names.indexOf(n) !== i);
if (clash !== undefined) throw new Error(`two bundle entries named ${clash}: worker modules need names of their own (${entries.join(', ')})`);

// Chunk names change with their content: the last build's would stay beside this one's.
rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: entries,
  outdir: OUT,
  entryNames: '[name]',
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
