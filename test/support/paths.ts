import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { projectRoot } from '../../src/common/native.js';

/** The project root (works from src/ and dist/); tests need it found, not guessed. */
export const repoRoot: string = (() => {
  const dir = projectRoot();
  if (!existsSync(join(dir, 'package.json'))) throw new Error('package.json not found above ' + dir);
  return dir;
})();

/** `../shared/` beside the project: the corpus and Falco payloads (read in place, never copied). */
export const sharedDir: string = resolve(repoRoot, '..', 'shared');
export const corpusDir: string = join(sharedDir, 'corpus', 'tcpdump');

/** Paths of the corpus's capture files (.pcap, .pcapng), sorted; none when the corpus is absent. */
export function corpusCaptures(): string[] {
  if (!existsSync(corpusDir)) return [];
  return readdirSync(corpusDir)
    .filter((f) => /\.pcap(ng)?$/.test(f))
    .sort()
    .map((f) => join(corpusDir, f));
}
