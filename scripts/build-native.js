#!/usr/bin/env node
// Builds the libpcap addon (native/) with node-gyp when its sources are newer than the build.
import { existsSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const out = 'native/build/Release/pcap_binding.node';
const sources = ['native/binding.gyp', 'native/pcap_binding.cc'];
const stale = !existsSync(out) || sources.some((s) => statSync(s).mtimeMs > statSync(out).mtimeMs);
if (stale) {
  const r = spawnSync('npx', ['--no-install', 'node-gyp', 'rebuild', '-C', 'native'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    console.error('tapline: building the libpcap addon failed (needs libpcap-dev, python3, make and g++: bash scripts/setup.sh installs them)');
    process.exit(r.status ?? 1);
  }
}
