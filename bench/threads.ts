// The `threads` section: CPU seconds per thread of `tapline tap --read CAPTURE --once`, the
// whole live path (ring, dissection, store) fed from the file. On two cores every thread's
// CPU counts against the loss-free rate, and a wall-clock profile charges a thread for the
// time it waits for a core; this reads what the kernel counted for each thread instead.
// The tap names its threads (src/common/thread-name.ts); the rest (V8's compiler and GC
// helpers, libuv's pool, the process's main thread) are counted together.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What the kernel counted for one thread: its name and user + system CPU seconds. */
interface ThreadSample {
  name: string;
  seconds: number;
}

let clockTicks: number | undefined;
/** Clock ticks per second of /proc's CPU times (asked once). */
const ticksPerSecond = (): number => (clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100);

/** Every thread of `pid` now, by thread id; a thread that ended meanwhile is skipped. */
function sampleThreads(pid: number, ticks: number): Map<string, ThreadSample> {
  const out = new Map<string, ThreadSample>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // proc(5): the name is in parentheses and may hold spaces; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(tid, { name, seconds: (Number(fields[11]) + Number(fields[12])) / ticks });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/**
 * Busy CPU seconds of the whole machine since boot, all cores together, from /proc/stat's
 * first line (proc(5): user nice system idle iowait irq softirq steal …): everything but
 * idle and iowait, so it also counts the kernel's work and other processes (a sender).
 */
export function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = fields[3]! + fields[4]!;
  return (fields.reduce((a, b) => a + b, 0) - idle) / ticksPerSecond();
}

/** CPU seconds of `pid`'s threads now, by name (threads of one name summed; unnamed ones are "other"). */
export function threadCpuByName(pid: number, ticks = ticksPerSecond()): Map<string, number> {
  return byName(sampleThreads(pid, ticks).values());
}

function byName(samples: Iterable<ThreadSample>): Map<string, number> {
  const out = new Map<string, number>();
  for (const { name, seconds } of samples) {
    const key = name.startsWith('tl-') ? name : 'other';
    out.set(key, (out.get(key) ?? 0) + seconds);
  }
  return out;
}

/** What each thread spent between two threadCpuByName samples. */
export function cpuBetween(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, s] of after) out[name] = +(s - (before.get(name) ?? 0)).toFixed(2);
  return out;
}

/** CPU seconds by thread name for one run. */
async function oneRun(bin: string, capture: string, ticks: number): Promise<Map<string, number>> {
  const data = mkdtempSync(join(tmpdir(), 'tapline-threads-'));
  try {
    const child = spawn(process.execPath, [bin, 'tap', '--read', capture, '--once', '--quiet', '--data', data, '--listen', '127.0.0.1:0'], { stdio: 'ignore' });
    const last = new Map<string, ThreadSample>();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let done = false;
    void exited.then(() => (done = true));
    // Every 20 ms: a thread's CPU is what was counted at its last sample before the process ended.
    while (!done) {
      for (const [tid, s] of sampleThreads(child.pid!, ticks)) last.set(tid, s);
      await new Promise((r) => setTimeout(r, 20));
    }
    const code = await exited;
    if (code !== 0) throw new Error(`tapline tap --read exited with ${code}`);
    return byName(last.values());
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

export interface ThreadCpu {
  name: string;
  /** CPU seconds in each run. */
  seconds: number[];
}

/** CPU seconds per named thread over `runs` runs of `tap --read` on `capture`, busiest first. */
export async function benchThreads(bin: string, capture: string, runs: number, log: (line: string) => void): Promise<ThreadCpu[]> {
  const ticks = ticksPerSecond();
  const perRun: Map<string, number>[] = [];
  for (let i = 0; i < runs; i++) perRun.push(await oneRun(bin, capture, ticks));
  const names = [...new Set(perRun.flatMap((m) => [...m.keys()]))];
  const rows = names.map((name) => ({ name, seconds: perRun.map((m) => m.get(name) ?? 0) }));
  rows.sort((a, b) => (a.name === 'other' ? 1 : b.name === 'other' ? -1 : Math.max(...b.seconds) - Math.max(...a.seconds)));
  log(`  ${'thread'.padEnd(14)} ${'CPU seconds per run'.padStart(24)}`);
  for (const r of rows) log(`  ${r.name.padEnd(14)} ${r.seconds.map((s) => s.toFixed(2)).join('  ').padStart(24)}`);
  const total = perRun.map((m) => [...m.values()].reduce((a, b) => a + b, 0));
  log(`  ${'all threads'.padEnd(14)} ${total.map((s) => s.toFixed(2)).join('  ').padStart(24)}`);
  return rows;
}
