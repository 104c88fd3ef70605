// Records examples/demo.pcapng: real curl → nginx and dig → dnsmasq traffic between two
// network namespaces (test/support/netns.ts), captured by tcpdump on the client's veth
// and converted to pcapng with editcap.
//
//   sudo node --import tsx examples/record-demo.ts [OUT.pcapng]
//
// Needs root, iproute2, tcpdump, nginx, dnsmasq, curl, dig and editcap (Wireshark's).
// Nothing leaves the two namespaces; they are removed when the recording is done.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { netnsUnavailableReason, recordScenario, type HttpRequestSpec, type ScenarioStep } from '../test/support/netns.js';

const out = resolve(process.argv[2] ?? fileURLToPath(new URL('./demo.pcapng', import.meta.url)));
/** Keep the file small enough to ship in the repository. */
const MAX_BYTES = 300 * 1024;

const why = netnsUnavailableReason();
if (why) {
  console.error(`record-demo: ${why}`);
  process.exit(2);
}

const IMS_FUTURE = 'Fri, 01 Jan 2100 00:00:00 GMT';
/** Shell: the server's address, which test nets put right after the client's on the client's veth (tlc0). */
const SERVER_IP = `server=$(ip -4 -o addr show dev tlc0 | awk '{ split($4, a, "[./]"); print a[1] "." a[2] "." a[3] "." a[4] + 1 }')`;
const pause = (seconds: number): ScenarioStep => ({ kind: 'exec', side: 'client', cmd: 'sleep', args: [String(seconds)] });

// A shop front end at work: it resolves its backends, serves a session on one keep-alive
// connection (JSON APIs, gzip, chunked pages, an order, redirects, errors), and a second
// client meets a 404 and a 500.
const session: HttpRequestSpec[] = [
  { path: '/healthz' },
  { path: '/json/user.json' },
  { path: '/json/catalog.json', compressed: true },
  { path: '/json/orders.json?page=2&sort=desc', compressed: true },
  { path: '/api/orders', method: 'POST', body: '{"sku":"SKU-00042","qty":3}', headers: { 'Content-Type': 'application/json' } },
  { path: '/html/index.html', compressed: true },
  { path: '/chunked/about.html' },
  { path: '/json/small.json', headers: { 'If-Modified-Since': IMS_FUTURE } },
  { path: '/files/size-64k.bin', method: 'HEAD' },
  { path: '/files/size-16k.bin' },
  { path: '/redirect' },
  { path: '/moved' },
  { path: '/missing/page' },
  { path: '/status/204' },
  { path: '/api/orders', method: 'DELETE' },
  { path: '/echo', method: 'POST', body: 'hello from the demo\n' },
  { path: '/status/503' },
];
const second: HttpRequestSpec[] = [{ path: '/status/404', compressed: true }, { path: '/json/users.json', compressed: true }, { path: '/status/500' }];

const steps: ScenarioStep[] = [
  {
    kind: 'dns',
    queries: [
      { name: 'cart.shop.svc.cluster.local', type: 'A' },
      { name: 'cart.shop.svc.cluster.local', type: 'AAAA' },
      { name: 'api.shop.svc.cluster.local', type: 'A' },
      { name: '_http._tcp.cart.shop.svc.cluster.local', type: 'SRV' },
    ],
  },
  pause(0.5),
  { kind: 'http', requests: session },
  pause(0.5),
  { kind: 'dns', queries: [{ name: 'nope.shop.svc.cluster.local', type: 'A' }, { name: 'missing.example.test', type: 'AAAA' }] },
  { kind: 'dns', queries: [{ name: 'example.test', type: 'MX' }], tcp: true },
  // A resolver that never answers (nothing listens on 5399): the query becomes a pair-not-found entry.
  { kind: 'exec', side: 'client', cmd: 'sh', args: ['-c', `${SERVER_IP} && dig @"$server" -p 5399 +tries=1 +time=1 redis.data.svc.cluster.local A || true`] },
  pause(0.5),
  { kind: 'http', requests: second },
];

const dir = mkdtempSync(join(tmpdir(), 'tapline-demo-'));
try {
  const rec = await recordScenario('demo', steps, { outDir: dir });
  execFileSync('editcap', ['-F', 'pcapng', rec.file, out]);
  const bytes = statSync(out).size;
  const transfers = rec.transfers.flat();
  console.log(`${out}: ${bytes} bytes, ${rec.capture.captured} packets, ${transfers.length} HTTP exchanges`);
  for (const t of transfers) console.log(`  ${t.method} ${t.url} → ${t.status}`);
  if (rec.capture.droppedByKernel !== 0) throw new Error(`the kernel dropped ${rec.capture.droppedByKernel} packets; record again`);
  if (bytes > MAX_BYTES) throw new Error(`${out} is ${bytes} bytes, over ${MAX_BYTES}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

