#!/usr/bin/env node
// Builds the native addons (native/: the libpcap binding and the JSON text writer, also built without SIMD for its tests) with node-gyp when a source is newer than a build.
import { existsSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const outs = ['pcap_binding', 'json_text', 'json_text_portable'].map((name) => `native/build/Release/${name}.node`);
const sources = ['native/binding.gyp', 'native/pcap_binding.cc', 'native/direct_file.cc', 'native/json_text.cc'];
const newest = Math.max(...sources.map((s) => statSync(s).mtimeMs));
const stale = outs.some((out) => !existsSync(out) || newest > statSync(out).mtimeMs);
if (stale) {
  const r = spawnSync('npx', ['--no-install', 'node-gyp', 'rebuild', '-C', 'native'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    console.error('tapline: building the native addons failed (needs libpcap-dev, python3, make and g++: bash scripts/setup.sh installs them)');
    process.exit(r.status ?? 1);
  }
}
