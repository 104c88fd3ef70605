// Test hosts for recording real traffic: two network namespaces (client, server)
// joined by one veth pair, with real servers (nginx, dnsmasq) and real clients
// (curl, dig) inside them, and tcpdump writing what crossed the wire.
//
// Traffic never leaves the namespaces: they hold only `lo` and their end of the
// veth, and no route out. Every process started here is tracked and ended by
// `destroy()`, by a process 'exit' hook, and by SIGINT/SIGTERM hooks, and
// namespaces left behind by a crashed run (their owner pid is in the name) are
// removed by the next `createTestNet`.

import { spawn, execFile, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, statSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Side = 'client' | 'server';

export interface ExecOptions {
  /** Kill the command after this long (default 60 s). */
  timeoutMs?: number;
  /** Written to the command's standard input. */
  input?: string;
  /** Reject when the command exits non-zero (default true). */
  check?: boolean;
  /** Largest stdout/stderr kept, in bytes (default 64 MiB). */
  maxBuffer?: number;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** One file or endpoint that `startNginx` serves, with what a client must get back. */
export interface NginxResource {
  path: string;
  /** Status for a GET without conditional headers. */
  status: number;
  /** Decoded body length for a GET (after de-chunking and decompression); null when nginx makes it up (error pages). */
  bodyLength: number | null;
  contentType: string;
  /** nginx compresses it when the client sends `Accept-Encoding: gzip`. */
  gzip: boolean;
  /** Sent with `Transfer-Encoding: chunked` even without gzip. */
  chunked: boolean;
}

export interface NginxOptions {
  /** TCP port on the server address (default 8080, a port tshark needs `-d` for). */
  port?: number;
}

export interface NginxServer {
  ip: string;
  port: number;
  /** `http://ip:port` */
  baseUrl: string;
  /** Folder holding nginx.conf, the served files and the logs. */
  dir: string;
  resources: NginxResource[];
  resource(path: string): NginxResource;
  stop(): Promise<void>;
}

export type DnsRecordType = 'A' | 'AAAA' | 'CNAME' | 'TXT' | 'MX' | 'SRV' | 'PTR';

/** One answer dnsmasq gives, with `data` written the way `tsharkDns` writes answers. */
export interface DnsRecord {
  name: string;
  type: DnsRecordType;
  data: string;
}

export interface DnsmasqOptions {
  port?: number;
  /** TTL of every local answer (default 300 s). */
  ttl?: number;
}

export interface DnsServer {
  ip: string;
  port: number;
  ttl: number;
  records: DnsRecord[];
  /** Names under the served zones that have no records: answered NXDOMAIN. */
  missingNames: string[];
  /** Zones answered from local data only (unknown names there get NXDOMAIN). */
  zones: string[];
  stop(): Promise<void>;
}

export interface CaptureOptions {
  /**
   * tcpdump -s. Default: 2048 on a 'wire' net (every frame is at most 1514
   * bytes), 262144 on a 'gso' net (whole 64 KiB super-frames fit).
   */
  snaplen?: number;
  /**
   * tcpdump -B in KiB (default 65536 on 'wire', 262144 on 'gso'). In immediate
   * mode the kernel ring holds fixed slots of about `snaplen` bytes, so this
   * divided by the snaplen is how many packets a burst may queue before the
   * kernel drops.
   */
  bufferKiB?: number;
}

export interface CaptureStats {
  /** Packets tcpdump wrote. */
  captured: number;
  /** Packets that reached the capture socket; equals `captured` when nothing was lost on the way to the file. */
  receivedByFilter: number;
  /** Packets the kernel dropped before tcpdump read them (0 in a good recording). */
  droppedByKernel: number;
  /** Bytes of the finished file. */
  fileBytes: number;
}

export interface Capture {
  file: string;
  /** Waits for the file to stop growing, sends SIGINT, and resolves once tcpdump has exited (so the file is complete). */
  stop(): Promise<CaptureStats>;
}

export interface TestNet {
  /** Unique id, also the prefix of both namespace names. */
  readonly id: string;
  readonly ns: Readonly<Record<Side, string>>;
  /** The veth end inside each namespace. */
  readonly iface: Readonly<Record<Side, string>>;
  readonly ip: Readonly<Record<Side, string>>;
  readonly segmentation: 'wire' | 'gso';
  /** A scratch folder removed by destroy(). */
  readonly dir: string;
  exec(side: Side, cmd: string, args: string[], opts?: ExecOptions): Promise<ExecResult>;
  spawn(side: Side, cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  startNginx(opts?: NginxOptions): Promise<NginxServer>;
  startDnsmasq(opts?: DnsmasqOptions): Promise<DnsServer>;
  capture(side: Side, iface: string, file: string, filter?: string, opts?: CaptureOptions): Promise<Capture>;
  destroy(): Promise<void>;
}

/** The first octets of every test address; each net gets its own /30 inside. */
export const TEST_RANGE = '10.213.0.0/16';
const NS_PREFIX = 'tl';
const STOP_GRACE_MS = 3000;
const READY_TIMEOUT_MS = 10_000;

/** True when namespaces can be made here (root, iproute2); tests skip with this reason otherwise. */
export function netnsUnavailableReason(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'network namespaces need root';
  for (const tool of ['ip', 'tcpdump']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------
// Cleanup registry: every live net, so exit and signals can tear them down.

const liveNets = new Set<TestNetImpl>();
let hooksInstalled = false;
let counter = 0;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const net of liveNets) net.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const net of liveNets) net.destroySync();
      process.kill(process.pid, sig);
    });
  }
}

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function pidsIn(ns: string): number[] {
  try {
    return ip(['netns', 'pids', ns]).split('\n').filter(Boolean).map(Number).filter((p) => p > 0);
  } catch {
    return [];
  }
}

function killQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

function deleteNamespaceSync(ns: string): void {
  for (const pid of pidsIn(ns)) killQuietly(pid, 'SIGKILL');
  try {
    ip(['netns', 'del', ns]);
  } catch {
    /* already gone */
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces made by a test process that no longer runs (the pid is in the name, base 36). */
function sweepStale(): void {
  let list: string;
  try {
    list = ip(['netns', 'list']);
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    const m = /^tl([0-9a-z]+)_\d+-/.exec(name ?? '');
    if (!m || !name) continue;
    const owner = parseInt(m[1]!, 36);
    if (owner !== process.pid && !isAlive(owner)) deleteNamespaceSync(name);
  }
}

/** Resolves true once `child` has exited (at once if it already has), false after `timeoutMs`. */
export function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** Ends a child: `sig` first, SIGKILL after the grace period; resolves when it has exited. */
async function stopChild(child: ChildProcess, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  killQuietly(child.pid, sig);
  if (await waitExit(child, STOP_GRACE_MS)) return;
  killQuietly(child.pid, 'SIGKILL');
  await waitExit(child, STOP_GRACE_MS);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------

class TestNetImpl implements TestNet {
  readonly children = new Set<ChildProcess>();
  destroyed = false;

  constructor(
    readonly id: string,
    readonly ns: Readonly<Record<Side, string>>,
    readonly iface: Readonly<Record<Side, string>>,
    readonly ip: Readonly<Record<Side, string>>,
    readonly dir: string,
    readonly segmentation: 'wire' | 'gso',
  ) {}

  exec(side: Side, cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const { timeoutMs = 60_000, input, check = true, maxBuffer = 64 << 20 } = opts;
    return new Promise((resolve, reject) => {
      const child = execFile(
        'ip',
        ['netns', 'exec', this.ns[side], cmd, ...args],
        { timeout: timeoutMs, maxBuffer, encoding: 'utf8', killSignal: 'SIGKILL' },
        (err, stdout, stderr) => {
          this.children.delete(child);
          const code = child.exitCode;
          const result: ExecResult = { code, signal: child.signalCode, stdout, stderr };
          if (err && (check || code === null)) {
            reject(new Error(`${cmd} ${args.join(' ')} in ${this.ns[side]} failed (code ${code}, signal ${child.signalCode}): ${stderr.slice(0, 2000)}`));
          } else resolve(result);
        },
      );
      this.children.add(child);
      if (input !== undefined) child.stdin?.end(input);
      else child.stdin?.end();
    });
  }

  spawn(side: Side, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    if (this.destroyed) throw new Error(`test net ${this.id} is destroyed`);
    const child = spawn('ip', ['netns', 'exec', this.ns[side], cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    // An unread pipe that fills up would stall the child: keep draining (listeners added now still see every chunk).
    child.stdout?.resume();
    child.stderr?.resume();
    return child;
  }

  /** Polls `ss` inside the server namespace (no packet crosses the veth) until `proto` listens on `port`. */
  private async waitListening(side: Side, proto: 'tcp' | 'udp', port: number, child: ChildProcess, what: string): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited before listening (code ${child.exitCode})`);
      const r = await this.exec(side, 'ss', ['-H', proto === 'tcp' ? '-ltn' : '-lun', `sport = :${port}`], { check: false });
      if (r.stdout.trim() !== '') return;
      await sleep(25);
    }
    throw new Error(`${what} did not listen on ${proto}/${port} within ${READY_TIMEOUT_MS} ms`);
  }

  async startNginx(opts: NginxOptions = {}): Promise<NginxServer> {
    const port = opts.port ?? 8080;
    const dir = join(this.dir, `nginx-${port}`);
    const resources = writeNginxSite(dir);
    const conf = nginxConfig(dir, this.ip.server, port);
    writeFileSync(join(dir, 'nginx.conf'), conf);
    const child = this.spawn('server', 'nginx', ['-e', join(dir, 'error.log'), '-p', dir, '-c', join(dir, 'nginx.conf')]);
    const stderr = collect(child);
    try {
      await this.waitListening('server', 'tcp', port, child, 'nginx');
    } catch (e) {
      throw new Error(`${(e as Error).message}: ${stderr()}`);
    }
    const byPath = new Map(resources.map((r) => [r.path, r]));
    return {
      ip: this.ip.server,
      port,
      baseUrl: `http://${this.ip.server}:${port}`,
      dir,
      resources,
      resource(path: string): NginxResource {
        const r = byPath.get(path);
        if (!r) throw new Error(`nginx serves no ${path}`);
        return r;
      },
      stop: () => stopChild(child, 'SIGTERM'),
    };
  }

  async startDnsmasq(opts: DnsmasqOptions = {}): Promise<DnsServer> {
    const port = opts.port ?? 53;
    const ttl = opts.ttl ?? 300;
    const dir = join(this.dir, `dnsmasq-${port}`);
    mkdirSync(dir, { recursive: true });
    const zone = dnsZone();
    const args = [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--no-poll',
      '--bind-interfaces',
      `--listen-address=${this.ip.server}`,
      `--port=${port}`,
      '--user=root',
      '--group=root',
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      '--log-facility=-',
      `--local-ttl=${ttl}`,
      ...zone.zones.map((z) => `--local=/${z}/`),
      ...zone.args,
    ];
    const child = this.spawn('server', 'dnsmasq', args);
    const stderr = collect(child);
    try {
      await this.waitListening('server', 'udp', port, child, 'dnsmasq');
      await this.waitListening('server', 'tcp', port, child, 'dnsmasq');
    } catch (e) {
      throw new Error(`${(e as Error).message}: ${stderr()}`);
    }
    return {
      ip: this.ip.server,
      port,
      ttl,
      records: zone.records,
      missingNames: zone.missingNames,
      zones: zone.zones,
      stop: () => stopChild(child, 'SIGTERM'),
    };
  }

  async capture(side: Side, iface: string, file: string, filter?: string, opts: CaptureOptions = {}): Promise<Capture> {
    // --immediate-mode: packets reach tcpdump at once instead of waiting in the ring for a block to fill
    // (a stop would otherwise lose the last second of traffic); -U writes each one through.
    const gso = this.segmentation === 'gso';
    const snaplen = opts.snaplen ?? (gso ? 262144 : 2048);
    const bufferKiB = opts.bufferKiB ?? (gso ? 262144 : 65536);
    const args = ['-i', iface, '-n', '-U', '--immediate-mode', '-Z', 'root', '-s', String(snaplen), '-B', String(bufferKiB), '-w', file];
    if (filter) args.push(filter);
    const child = this.spawn(side, 'tcpdump', args);
    let err = '';
    child.stderr?.setEncoding('utf8');
    // tcpdump prints "listening on IFACE" once the socket is open: from then on nothing is missed.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tcpdump did not start within ${READY_TIMEOUT_MS} ms: ${err}`)), READY_TIMEOUT_MS);
      child.stderr?.on('data', (d: string) => {
        err += d;
        if (err.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tcpdump exited (code ${code}) before listening: ${err}`));
      });
    });
    let stopped: Promise<CaptureStats> | undefined;
    return {
      file,
      stop: () => {
        stopped ??= (async () => {
          await waitFileSettled(file);
          await stopChild(child, 'SIGINT');
          const num = (re: RegExp): number => Number(re.exec(err)?.[1] ?? NaN);
          return {
            captured: num(/(\d+) packets? captured/),
            receivedByFilter: num(/(\d+) packets? received by filter/),
            droppedByKernel: num(/(\d+) packets? dropped by kernel/),
            fileBytes: statSync(file).size,
          };
        })();
        return stopped;
      },
    };
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.children].map((c) => stopChild(c, 'SIGTERM')));
    this.destroySync();
  }

  /** Synchronous teardown for exit hooks: kill what is left, delete both namespaces and the scratch folder. */
  destroySync(): void {
    this.destroyed = true;
    for (const c of this.children) if (c.pid !== undefined) killQuietly(c.pid, 'SIGKILL');
    this.children.clear();
    deleteNamespaceSync(this.ns.client);
    deleteNamespaceSync(this.ns.server);
    rmSync(this.dir, { recursive: true, force: true });
    liveNets.delete(this);
  }
}

function collect(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    if (text.length < 65536) text += d;
  });
  return () => text;
}

/** Waits until the file has not grown for 150 ms (at most 5 s): the last packets are on disk before tcpdump is told to stop. */
async function waitFileSettled(file: string): Promise<void> {
  const deadline = Date.now() + 5000;
  let last = -1;
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    const size = existsSync(file) ? statSync(file).size : -1;
    if (size !== last) {
      last = size;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 150) return;
    await sleep(25);
  }
}

/**
 * Makes two namespaces joined by a veth pair, each with loopback up and one
 * address of a /30 in TEST_RANGE. `name` only helps a person reading `ip netns list`.
 */
export interface TestNetOptions {
  /**
   * 'wire' (default): at most one MTU-sized segment per packet, as on a real
   * link. 'gso': the kernel's 64 KiB super-frames, as tcpdump sees them on a
   * host with segmentation offload.
   */
  segmentation?: 'wire' | 'gso';
}

export async function createTestNet(name: string, opts: TestNetOptions = {}): Promise<TestNet> {
  const why = netnsUnavailableReason();
  if (why) throw new Error(`cannot create test net: ${why}`);
  installHooks();
  sweepStale();
  const n = counter++;
  const tag = name.toLowerCase().replace(/[^a-z0-9]+/g, '').slice(0, 12) || 'net';
  const id = `${NS_PREFIX}${process.pid.toString(36)}_${n}-${tag}`;
  const ns = { client: `${id}-c`, server: `${id}-s` };
  const iface = { client: 'tlc0', server: 'tls0' };
  // A /30 per net: pid and counter spread parallel test files over 10.213.0.0/16.
  const slot = ((process.pid & 0x3ff) * 16 + n) & 0x3fff;
  const base = `10.213.${slot >> 6}.`;
  const low = (slot & 63) << 2;
  const addr = { client: `${base}${low + 1}`, server: `${base}${low + 2}` };
  const dir = mkdtempSync(join(tmpdir(), `tapline-${id}-`));
  chmodSync(dir, 0o755);
  const net = new TestNetImpl(id, ns, iface, addr, dir, opts.segmentation ?? 'wire');
  liveNets.add(net);
  try {
    ip(['netns', 'add', ns.client]);
    ip(['netns', 'add', ns.server]);
    // Created straight into the namespaces, so nothing ever sits in the host's namespace.
    ip(['link', 'add', iface.client, 'netns', ns.client, 'type', 'veth', 'peer', 'name', iface.server, 'netns', ns.server]);
    for (const side of ['client', 'server'] as const) {
      ip(['-n', ns[side], 'link', 'set', 'lo', 'up']);
      ip(['-n', ns[side], 'addr', 'add', `${addr[side]}/30`, 'dev', iface[side]]);
      // One segment per GSO packet: what tcpdump sees is what a wire would carry.
      if (opts.segmentation !== 'gso') ip(['-n', ns[side], 'link', 'set', iface[side], 'gso_max_segs', '1']);
      ip(['-n', ns[side], 'link', 'set', iface[side], 'up']);
    }
  } catch (e) {
    net.destroySync();
    throw e;
  }
  return net;
}

// ---------------------------------------------------------------------------
// nginx site

/** Deterministic bytes (xorshift32): the same files every run, and not compressible. */
function pseudoRandom(size: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let x = seed | 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

/** A JSON document of about `approxBytes`, shaped like an API answer (array of records). */
export function jsonDocument(approxBytes: number, seed: number): string {
  const items: object[] = [];
  let size = 20;
  let i = 0;
  const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
  while (size < approxBytes) {
    const item = {
      id: seed * 100000 + i,
      name: `${names[(i + seed) % names.length]}-${i}`,
      sku: `SKU-${((i * 7919 + seed) % 100000).toString().padStart(5, '0')}`,
      price: Math.round(((i * 37 + seed) % 10000) * 1.01) / 100,
      tags: [names[i % 8], names[(i * 3) % 8]],
      inStock: (i + seed) % 3 !== 0,
    };
    items.push(item);
    size += JSON.stringify(item).length + 1;
    i++;
  }
  return JSON.stringify({ count: items.length, items }) + '\n';
}

function htmlDocument(approxBytes: number, title: string): string {
  let body = '';
  let i = 0;
  while (body.length < approxBytes) {
    body += `<p class="row-${i % 5}">Item ${i} of ${title}: lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n`;
    i++;
  }
  return `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body>\n<h1>${title}</h1>\n${body}</body></html>\n`;
}

/** Sizes of the binary files under /files/: edges (0, 1), small, and 1–5 MB bodies. */
export const NGINX_FILE_SIZES: Readonly<Record<string, number>> = {
  'size-0.bin': 0,
  'size-1.bin': 1,
  'size-100.bin': 100,
  'size-1k.bin': 1024,
  'size-16k.bin': 16 * 1024,
  'size-64k.bin': 64 * 1024,
  'size-1m.bin': 1 << 20,
  'size-3m.bin': 3 << 20,
  'size-5m.bin': 5 << 20,
};

/** Approximate sizes of the JSON documents under /json/ (exact sizes are in the resource list). */
const JSON_SIZES: Readonly<Record<string, number>> = {
  'small.json': 300,
  'user.json': 1500,
  'users.json': 8000,
  'orders.json': 24000,
  'catalog.json': 50000,
  'export.json': 400000,
};

const HTML_SIZES: Readonly<Record<string, number>> = { 'index.html': 6000, 'about.html': 1500, 'report.html': 40000 };

/** Bodies `return` sends: exact and known, unlike nginx's own error pages. */
const CREATED_BODY = '{"id":42,"status":"created"}\n';
/** JSON answers with a nested field, for queries that walk into a body (`response.content.text.json().some.path`). */
const SOME_PATH_BODY = '{"some":{"path":"somevalue"}}\n';
const SOME_OTHER_BODY = '{"some":{"path":"othervalue"}}\n';

interface NginxSite {
  resources: NginxResource[];
  /** Path under www/ → content. */
  files: Map<string, Buffer>;
}

function buildNginxSite(): NginxSite {
  const files = new Map<string, Buffer>();
  const out: NginxResource[] = [];
  let seed = 1;
  for (const [name, size] of Object.entries(NGINX_FILE_SIZES)) {
    files.set(`files/${name}`, pseudoRandom(size, seed++));
    out.push({ path: `/files/${name}`, status: 200, bodyLength: size, contentType: 'application/octet-stream', gzip: false, chunked: false });
  }
  for (const [name, size] of Object.entries(JSON_SIZES)) {
    const doc = Buffer.from(jsonDocument(size, seed++));
    files.set(`json/${name}`, doc);
    out.push({ path: `/json/${name}`, status: 200, bodyLength: doc.length, contentType: 'application/json', gzip: true, chunked: false });
  }
  for (const [name, size] of Object.entries(HTML_SIZES)) {
    const doc = Buffer.from(htmlDocument(size, name));
    files.set(`html/${name}`, doc);
    files.set(`chunked/${name}`, doc);
    out.push({ path: `/html/${name}`, status: 200, bodyLength: doc.length, contentType: 'text/html', gzip: true, chunked: false });
    // sub_filter may change the body, so nginx drops Content-Length and chunks it; the marker never occurs, so the bytes stay the same.
    out.push({ path: `/chunked/${name}`, status: 200, bodyLength: doc.length, contentType: 'text/html', gzip: true, chunked: true });
  }
  out.push({ path: '/healthz', status: 200, bodyLength: 3, contentType: 'text/plain', gzip: false, chunked: false });
  out.push({ path: '/status/500', status: 500, bodyLength: null, contentType: 'text/html', gzip: true, chunked: false });
  out.push({ path: '/status/503', status: 503, bodyLength: null, contentType: 'text/html', gzip: true, chunked: false });
  out.push({ path: '/status/404', status: 404, bodyLength: null, contentType: 'text/html', gzip: true, chunked: false });
  out.push({ path: '/status/204', status: 204, bodyLength: 0, contentType: 'application/octet-stream', gzip: false, chunked: false });
  out.push({ path: '/missing/page', status: 404, bodyLength: null, contentType: 'text/html', gzip: true, chunked: false });
  out.push({ path: '/redirect', status: 302, bodyLength: null, contentType: 'text/html', gzip: true, chunked: false });
  out.push({ path: '/moved', status: 301, bodyLength: null, contentType: 'text/html', gzip: true, chunked: false });
  out.push({ path: '/api/orders', status: 201, bodyLength: CREATED_BODY.length, contentType: 'application/json', gzip: false, chunked: false });
  // gzip_types covers application/json, so these are compressed when asked (`return` bodies are short: no chunking).
  out.push({ path: '/api/some', status: 200, bodyLength: SOME_PATH_BODY.length, contentType: 'application/json', gzip: true, chunked: false });
  out.push({ path: '/api/some-other', status: 200, bodyLength: SOME_OTHER_BODY.length, contentType: 'application/json', gzip: true, chunked: false });
  // The echo module sends the request body back without a length: chunked.
  out.push({ path: '/echo', status: 200, bodyLength: null, contentType: 'application/octet-stream', gzip: false, chunked: true });
  return { resources: out, files };
}


/** What `startNginx` serves, without starting it (the same every run). */
export function nginxResources(): NginxResource[] {
  return buildNginxSite().resources;
}

function writeNginxSite(dir: string): NginxResource[] {
  const site = buildNginxSite();
  for (const sub of ['files', 'json', 'html', 'chunked']) mkdirSync(join(dir, 'www', sub), { recursive: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  for (const [rel, content] of site.files) writeFileSync(join(dir, 'www', rel), content);
  return site.resources;
}

const ECHO_MODULE = '/usr/lib/nginx/modules/ngx_http_echo_module.so';

function nginxConfig(dir: string, addr: string, port: number): string {
  const www = join(dir, 'www');
  const tmp = join(dir, 'tmp');
  // nginx-light on Debian depends on the echo module; without it /echo answers 404.
  const echo = existsSync(ECHO_MODULE);
  return `${echo ? `load_module ${ECHO_MODULE};\n` : ''}daemon off;
master_process on;
worker_processes 1;
user root root;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  client_body_buffer_size 1m;
  client_max_body_size 16m;
  types { text/html html; application/json json; text/plain txt; application/octet-stream bin; }
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 60s;
  keepalive_requests 1000000;
  # Any If-Modified-Since at or after the file's time gets 304, so clients can ask for 304s without knowing mtimes.
  if_modified_since before;
  gzip on;
  gzip_comp_level 1;
  gzip_min_length 1;
  gzip_vary on;
  gzip_types application/json text/plain;
  server {
    listen ${addr}:${port};
    server_name tapline.test;
    root ${www};
    location = /healthz { default_type text/plain; return 200 "ok\\n"; }
    location = /status/500 { return 500; }
    location = /status/503 { return 503; }
    location = /status/404 { return 404; }
    location = /status/204 { return 204; }
    location = /redirect { return 302 /json/small.json; }
    location = /moved { return 301 /html/index.html; }
    location = /api/orders { default_type application/json; return 201 '${CREATED_BODY.trimEnd()}\\n'; }
    location = /api/some { default_type application/json; return 200 '${SOME_PATH_BODY.trimEnd()}\\n'; }
    location = /api/some-other { default_type application/json; return 200 '${SOME_OTHER_BODY.trimEnd()}\\n'; }
    location /chunked/ { sub_filter '@@never@@' 'x'; sub_filter_once off; }
${echo ? '    location = /echo { echo_read_request_body; echo_request_body; }\n' : ''}  }
}
`;
}

// ---------------------------------------------------------------------------
// dnsmasq zone

interface DnsZone {
  zones: string[];
  args: string[];
  records: DnsRecord[];
  missingNames: string[];
}

/**
 * The names dnsmasq answers. Addresses come from the documentation ranges
 * (RFC 5737, RFC 3849): answers only, nothing is ever sent to them.
 */
function dnsZone(): DnsZone {
  const args: string[] = [];
  const records: DnsRecord[] = [];
  const hosts: [string, string, string][] = [
    ['cart.shop.svc.cluster.local', '192.0.2.10', '2001:db8::10'],
    ['frontend.shop.svc.cluster.local', '192.0.2.11', '2001:db8::11'],
    ['payments.billing.svc.cluster.local', '192.0.2.12', '2001:db8::12'],
    ['kube-dns.kube-system.svc.cluster.local', '192.0.2.53', '2001:db8::53'],
    ['web.example.test', '198.51.100.80', '2001:db8:1::80'],
    ['mail.example.test', '198.51.100.25', '2001:db8:1::25'],
  ];
  for (const [name, v4, v6] of hosts) {
    // host-record also makes the PTR records of both addresses.
    args.push(`--host-record=${name},${v4},${v6}`);
    records.push({ name, type: 'A', data: v4 }, { name, type: 'AAAA', data: v6 });
    records.push({ name: `${v4.split('.').reverse().join('.')}.in-addr.arpa`, type: 'PTR', data: name });
  }
  // Several pods behind one headless service name: several A answers.
  for (const a of ['192.0.2.21', '192.0.2.22', '192.0.2.23']) {
    args.push(`--host-record=redis.data.svc.cluster.local,${a}`);
    records.push({ name: 'redis.data.svc.cluster.local', type: 'A', data: a });
  }
  const cnames: [string, string][] = [
    ['www.example.test', 'web.example.test'],
    ['api.shop.svc.cluster.local', 'cart.shop.svc.cluster.local'],
  ];
  for (const [alias, target] of cnames) {
    args.push(`--cname=${alias},${target}`);
    records.push({ name: alias, type: 'CNAME', data: target });
  }
  const txts: [string, string][] = [
    ['example.test', 'v=spf1 mx -all'],
    ['_config.shop.svc.cluster.local', 'feature=checkout-v2'],
  ];
  for (const [name, text] of txts) {
    // No shell in between: quotes here would become part of the text.
    args.push(`--txt-record=${name},${text}`);
    records.push({ name, type: 'TXT', data: text });
  }
  args.push('--mx-host=example.test,mail.example.test,10');
  records.push({ name: 'example.test', type: 'MX', data: '10 mail.example.test' });
  args.push('--srv-host=_http._tcp.cart.shop.svc.cluster.local,cart.shop.svc.cluster.local,8080,0,5');
  records.push({ name: '_http._tcp.cart.shop.svc.cluster.local', type: 'SRV', data: '0 5 8080 cart.shop.svc.cluster.local' });
  args.push('--ptr-record=99.2.0.192.in-addr.arpa,legacy.example.test');
  records.push({ name: '99.2.0.192.in-addr.arpa', type: 'PTR', data: 'legacy.example.test' });
  return {
    zones: ['cluster.local', 'test', 'in-addr.arpa', 'ip6.arpa'],
    args,
    records,
    missingNames: ['nope.shop.svc.cluster.local', 'missing.example.test', 'does-not-exist.test'],
  };
}

/** What `startDnsmasq` answers, without starting it. */
export function dnsRecords(): { records: DnsRecord[]; missingNames: string[]; zones: string[] } {
  const { records, missingNames, zones } = dnsZone();
  return { records, missingNames, zones };
}

// ---------------------------------------------------------------------------
// Scenarios: one net, real servers, real clients, one capture.

export interface HttpRequestSpec {
  path: string;
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  body?: string;
  /** curl --compressed: ask for gzip and decode it. */
  compressed?: boolean;
  headers?: Record<string, string>;
}

export type ScenarioStep =
  /** One curl process: every request on one keep-alive connection (curl reuses it across `next`). */
  | { kind: 'http'; requests: HttpRequestSpec[] }
  /** One dig process asking every question, over UDP or TCP (+tcp: one connection per question). */
  | { kind: 'dns'; queries: { name: string; type: string }[]; tcp?: boolean }
  /** Any command in a namespace, e.g. a second client. */
  | { kind: 'exec'; side: Side; cmd: string; args: string[] };

/** What curl reported for one request (its write-out), the ground truth a test compares with. */
export interface CurlTransfer {
  method: string;
  url: string;
  status: number;
  bytesDownloaded: number;
  /** New connections made for this transfer: 0 when it reused the keep-alive connection. */
  connects: number;
}

export interface RecordedScenario {
  file: string;
  dir: string;
  clientIp: string;
  serverIp: string;
  httpPort: number;
  dnsPort: number;
  nginx: Pick<NginxServer, 'resources' | 'baseUrl'>;
  dns: Pick<DnsServer, 'records' | 'missingNames' | 'ttl'>;
  /** One list per http step, in step order. */
  transfers: CurlTransfer[][];
  capture: CaptureStats;
  /** Removes the recording's folder. */
  remove(): void;
}

export interface ScenarioOptions {
  httpPort?: number;
  dnsPort?: number;
  /** Folder for the pcap (default: a new temp folder). */
  outDir?: string;
  /** Bound on each client command (default 60 s). */
  stepTimeoutMs?: number;
  segmentation?: TestNetOptions['segmentation'];
}

/** Quotes a value for a curl config file (backslash and double quote escaped). */
function curlQuote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

const CURL_WRITE_OUT = '%{method} %{url_effective} %{response_code} %{size_download} %{num_connects}\\n';

/** A curl config (-K) fetching every request in order; `next` keeps the connection but resets per-request options. */
export function curlConfig(baseUrl: string, requests: HttpRequestSpec[]): string {
  const lines: string[] = [];
  requests.forEach((r, i) => {
    if (i > 0) lines.push('next');
    lines.push('silent', 'output = "/dev/null"', `write-out = "${CURL_WRITE_OUT}"`);
    const method = r.method ?? 'GET';
    if (method === 'HEAD') lines.push('head');
    else if (method !== 'GET' && r.body === undefined) lines.push(`request = ${method}`);
    if (r.body !== undefined) {
      lines.push(`data-binary = ${curlQuote(r.body)}`);
      if (method !== 'POST') lines.push(`request = ${method}`);
    }
    if (r.compressed) lines.push('compressed');
    for (const [k, v] of Object.entries(r.headers ?? {})) lines.push(`header = ${curlQuote(`${k}: ${v}`)}`);
    lines.push(`url = ${curlQuote(baseUrl + r.path)}`);
  });
  return lines.join('\n') + '\n';
}

export function parseCurlWriteOut(stdout: string): CurlTransfer[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [method, url, status, size, connects] = line.split(' ');
      return { method: method!, url: url!, status: Number(status), bytesDownloaded: Number(size), connects: Number(connects) };
    });
}

/** dig arguments for one process asking many questions (dig takes several name/type pairs on one line). */
export function digArgs(server: string, port: number, queries: { name: string; type: string }[], tcp: boolean): string[] {
  const args = [`@${server}`, '-p', String(port), '+tries=1', '+time=2', '+noall', '+answer'];
  if (tcp) args.push('+tcp');
  for (const q of queries) args.push(q.name, q.type);
  return args;
}

/**
 * Builds a net, starts nginx and dnsmasq, captures on the client's veth while
 * the steps run, and returns the finished pcap. The net is destroyed before
 * this returns, also when a step fails.
 */
export async function recordScenario(name: string, steps: ScenarioStep[], opts: ScenarioOptions = {}): Promise<RecordedScenario> {
  const httpPort = opts.httpPort ?? 8080;
  const dnsPort = opts.dnsPort ?? 53;
  const timeoutMs = opts.stepTimeoutMs ?? 60_000;
  const dir = opts.outDir ?? mkdtempSync(join(tmpdir(), `tapline-rec-${name.replace(/[^a-zA-Z0-9]+/g, '-')}-`));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name.replace(/[^a-zA-Z0-9]+/g, '-')}.pcap`);
  let net: TestNet;
  try {
    net = await createTestNet(name, { segmentation: opts.segmentation });
  } catch (e) {
    if (!opts.outDir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let ok = false;
  try {
    const nginx = await net.startNginx({ port: httpPort });
    const dns = await net.startDnsmasq({ port: dnsPort });
    const cap = await net.capture('client', net.iface.client, file);
    const transfers: CurlTransfer[][] = [];
    let i = 0;
    for (const step of steps) {
      if (step.kind === 'http') {
        const cfg = join(net.dir, `curl-${i++}.cfg`);
        writeFileSync(cfg, curlConfig(nginx.baseUrl, step.requests));
        const r = await net.exec('client', 'curl', ['-K', cfg], { timeoutMs });
        transfers.push(parseCurlWriteOut(r.stdout));
      } else if (step.kind === 'dns') {
        await net.exec('client', 'dig', digArgs(dns.ip, dns.port, step.queries, step.tcp ?? false), { timeoutMs });
      } else {
        await net.exec(step.side, step.cmd, step.args, { timeoutMs });
      }
    }
    const stats = await cap.stop();
    const result: RecordedScenario = {
      file,
      dir,
      clientIp: net.ip.client,
      serverIp: net.ip.server,
      httpPort,
      dnsPort,
      nginx: { resources: nginx.resources, baseUrl: nginx.baseUrl },
      dns: { records: dns.records, missingNames: dns.missingNames, ttl: dns.ttl },
      transfers,
      capture: stats,
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
    ok = true;
    return result;
  } finally {
    await net.destroy();
    if (!ok && !opts.outDir) rmSync(dir, { recursive: true, force: true });
  }
}
