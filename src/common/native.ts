/** Where the native addons (native/, built by node-gyp at install) are found. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: the nearest folder above this file holding package.json (from src/ and dist/ alike). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('dist')) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

/** The node-gyp output of the addon `name` (a target of native/binding.gyp). */
export function nativeAddonPath(name: string): string {
  return join(projectRoot(), 'native', 'build', 'Release', `${name}.node`);
}

/** The libpcap addon, which also holds DirectFile (append-file.ts): $TAPLINE_PCAP_ADDON, else the node-gyp output. */
export function pcapAddonPath(): string {
  return process.env.TAPLINE_PCAP_ADDON || nativeAddonPath('pcap_binding');
}
