import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createTestNet,
  netnsUnavailableReason,
  recordScenario,
  curlConfig,
  parseCurlWriteOut,
  NGINX_FILE_SIZES,
  type TestNet,
} from './netns.js';
import { capinfosPackets } from './tshark.js';

const skip = netnsUnavailableReason() ?? false;
const T = { timeout: 120_000 };

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[0]!);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('createTestNet', { skip }, () => {
  const nets: TestNet[] = [];
  after(async () => {
    for (const n of nets) await n.destroy();
  });

  test('makes two namespaces joined by a veth, each with its address, and removes them', T, async () => {
    const net = await createTestNet('basic');
    nets.push(net);
    assert.ok(namespaces().includes(net.ns.client));
    assert.ok(namespaces().includes(net.ns.server));
    assert.match(net.ip.client, /^10\.213\.\d+\.\d+$/);
    const addrC = await net.exec('client', 'ip', ['-4', '-o', 'addr', 'show', 'dev', net.iface.client]);
    assert.match(addrC.stdout, new RegExp(`inet ${net.ip.client.replace(/\./g, '\\.')}/30`));
    const addrS = await net.exec('server', 'ip', ['-4', '-o', 'addr', 'show', 'dev', net.iface.server]);
    assert.match(addrS.stdout, new RegExp(`inet ${net.ip.server.replace(/\./g, '\\.')}/30`));
    const lo = await net.exec('client', 'ip', ['-o', 'link', 'show', 'lo']);
    assert.match(lo.stdout, /state UNKNOWN|LOWER_UP/);
    // No way out: the only routes are the /30 itself.
    const routes = await net.exec('client', 'ip', ['-4', 'route', 'show']);
    assert.doesNotMatch(routes.stdout, /default/);

    const nginx = await net.startNginx();
    const r = await net.exec('client', 'curl', ['-s', '--max-time', '5', `${nginx.baseUrl}/healthz`]);
    assert.equal(r.stdout, 'ok\n');
    const pids = execFileSync('ip', ['netns', 'pids', net.ns.server], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    assert.ok(pids.length >= 2, 'nginx master and worker run in the server namespace');

    await net.destroy();
    assert.ok(!namespaces().includes(net.ns.client));
    assert.ok(!namespaces().includes(net.ns.server));
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} ended`);
    await net.destroy(); // a second call is harmless
  });

  test('two nets at once get different names and subnets', T, async () => {
    const a = await createTestNet('twin');
    const b = await createTestNet('twin');
    nets.push(a, b);
    assert.notEqual(a.ns.client, b.ns.client);
    assert.notEqual(a.ip.client, b.ip.client);
    await a.destroy();
    assert.ok(namespaces().includes(b.ns.client), 'destroying one leaves the other');
    await b.destroy();
  });

  test('nginx serves every resource of its catalogue with the promised status and size', T, async () => {
    const net = await createTestNet('site');
    nets.push(net);
    const nginx = await net.startNginx({ port: 8081 });
    const cfg = join(net.dir, 'all.cfg');
    writeFileSync(cfg, curlConfig(nginx.baseUrl, nginx.resources.map((r) => ({ path: r.path }))));
    const transfers = parseCurlWriteOut((await net.exec('client', 'curl', ['-K', cfg])).stdout);
    assert.equal(transfers.length, nginx.resources.length);
    nginx.resources.forEach((res, i) => {
      const t = transfers[i]!;
      assert.equal(t.url, nginx.baseUrl + res.path);
      assert.equal(t.status, res.status, res.path);
      if (res.bodyLength !== null) assert.equal(t.bytesDownloaded, res.bodyLength, res.path);
    });
    assert.equal(nginx.resource('/files/size-5m.bin').bodyLength, NGINX_FILE_SIZES['size-5m.bin']);
    // Keep-alive: one connection for everything up to the first 500 (nginx closes after it).
    assert.equal(transfers[0]!.connects, 1);
    assert.equal(transfers[1]!.connects, 0);

    const chunked = await net.exec('client', 'curl', ['-s', '-D', '-', '-o', '/dev/null', `${nginx.baseUrl}/chunked/index.html`]);
    assert.match(chunked.stdout, /Transfer-Encoding: chunked/i);
    const gz = await net.exec('client', 'curl', ['-s', '-D', '-', '-o', '/dev/null', '-H', 'Accept-Encoding: gzip', `${nginx.baseUrl}/json/users.json`]);
    assert.match(gz.stdout, /Content-Encoding: gzip/i);
    assert.match(gz.stdout, /Transfer-Encoding: chunked/i);
    const echo = await net.exec('client', 'curl', ['-s', '--data-binary', 'ping-pong', `${nginx.baseUrl}/echo`]);
    assert.equal(echo.stdout, 'ping-pong');
    const notModified = await net.exec('client', 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT', `${nginx.baseUrl}/json/small.json`]);
    assert.equal(notModified.stdout, '304');
  });

  test('dnsmasq answers every configured record and NXDOMAIN for unknown names, over UDP and TCP', T, async () => {
    const net = await createTestNet('dns');
    nets.push(net);
    const dns = await net.startDnsmasq();
    for (const tcp of [false, true]) {
      for (const rec of dns.records) {
        const args = [`@${dns.ip}`, '+short', '+tries=1', '+time=2', ...(tcp ? ['+tcp'] : []), rec.name, rec.type];
        const out = (await net.exec('client', 'dig', args)).stdout.split('\n').filter(Boolean);
        // +short prints TXT quoted and names with a trailing dot.
        const want = rec.type === 'TXT' ? `"${rec.data}"` : /^[\d.]+$|:/.test(rec.data) ? rec.data : `${rec.data}.`;
        assert.ok(out.includes(want), `${rec.name} ${rec.type}: ${JSON.stringify(out)} lacks ${want}`);
      }
    }
    for (const name of dns.missingNames) {
      const out = (await net.exec('client', 'dig', [`@${dns.ip}`, '+tries=1', '+time=2', name, 'A'])).stdout;
      assert.match(out, /status: NXDOMAIN/, name);
    }
    const ttl = (await net.exec('client', 'dig', [`@${dns.ip}`, '+noall', '+answer', 'cart.shop.svc.cluster.local', 'A'])).stdout;
    assert.match(ttl, /\s300\s+IN\s+A\s+192\.0\.2\.10/);
  });

  test('capture.stop() returns once tcpdump has exited and the file holds every packet', T, async () => {
    const net = await createTestNet('cap');
    nets.push(net);
    const nginx = await net.startNginx();
    const dir = mkdtempSync(join(tmpdir(), 'tapline-cap-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'c.pcap');
    const cap = await net.capture('client', net.iface.client, file, 'tcp port 8080');
    await net.exec('client', 'curl', ['-s', '-o', '/dev/null', `${nginx.baseUrl}/files/size-1m.bin`]);
    const stats = await cap.stop();
    assert.equal(stats.droppedByKernel, 0);
    assert.equal(stats.captured, stats.receivedByFilter);
    // 1 MiB in segments of at most 1448 bytes: well over 700 data packets, plus handshake and ACKs.
    assert.ok(stats.captured > 724, `captured ${stats.captured}`);
    assert.equal(await capinfosPackets(file), stats.captured);
    assert.equal(statSync(file).size, stats.fileBytes);
    const tcpdumpLeft = execFileSync('ip', ['netns', 'pids', net.ns.client], { encoding: 'utf8' }).trim();
    assert.equal(tcpdumpLeft, '', 'tcpdump has exited');
    assert.deepEqual(await cap.stop(), stats, 'stop() twice gives the same answer');
  });

  test("'wire' segmentation keeps every frame within the MTU; 'gso' lets 64 KiB frames through", T, async () => {
    const sizes: Record<string, number> = {};
    for (const segmentation of ['wire', 'gso'] as const) {
      const rec = await recordScenario(`seg-${segmentation}`, [{ kind: 'http', requests: [{ path: '/files/size-1m.bin' }] }], { segmentation });
      after(() => rec.remove());
      const out = execFileSync('tshark', ['-r', rec.file, '-T', 'fields', '-e', 'frame.len'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      sizes[segmentation] = Math.max(...out.split('\n').filter(Boolean).map(Number));
    }
    assert.equal(sizes['wire'], 1514);
    assert.ok(sizes['gso']! > 1514, `largest gso frame ${sizes['gso']}`);
  });

  test('recordScenario tears its net down when a step fails', T, async () => {
    const before = new Set(namespaces());
    await assert.rejects(recordScenario('failing', [{ kind: 'exec', side: 'client', cmd: 'false', args: [] }]), /false .*failed \(code 1/);
    assert.deepEqual(namespaces().filter((n) => !before.has(n)), []);
  });
});

describe('cleanup outside destroy()', { skip }, () => {
  // A child process makes a net and ends without destroy(): by exit, or killed by SIGTERM.
  const self = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './netns.ts' : './netns.js', import.meta.url));
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--test'));

  function runChild(ending: string): string[] {
    const script = `
      import { createTestNet } from ${JSON.stringify(self)};
      const net = await createTestNet('orphan');
      await net.startNginx();
      console.log(JSON.stringify([net.ns.client, net.ns.server]));
      ${ending}
    `;
    const r = spawnSync(process.execPath, [...execArgv, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    const line = r.stdout.split('\n').find((l) => l.startsWith('['));
    assert.ok(line, `child printed its namespaces: ${r.stdout} ${r.stderr}`);
    return JSON.parse(line) as string[];
  }

  test('process exit removes the namespaces', T, () => {
    const made = runChild('process.exit(0);');
    for (const ns of made) assert.ok(!namespaces().includes(ns), ns);
  });

  test('SIGTERM removes the namespaces', T, () => {
    const made = runChild("process.kill(process.pid, 'SIGTERM'); await new Promise((r) => setTimeout(r, 5000));");
    for (const ns of made) assert.ok(!namespaces().includes(ns), ns);
  });

  test('a later createTestNet removes namespaces whose owner process is gone', T, async () => {
    let dead = 4_000_000;
    while (alive(dead)) dead--;
    const stale = `tl${dead.toString(36)}_0-stale-c`;
    execFileSync('ip', ['netns', 'add', stale]);
    try {
      const net = await createTestNet('sweeper');
      await net.destroy();
      assert.ok(!namespaces().includes(stale));
    } finally {
      spawnSync('ip', ['netns', 'del', stale]);
    }
  });
});
