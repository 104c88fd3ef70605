// Times whole commands: wall time from Node's clock around the child, peak
// RSS from GNU time's %M (the kernel's maximum resident set of the child).

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's `time` package; without it peak RSS is not measured. */
export const GNU_TIME = '/usr/bin/time';

export interface MeasureOptions {
  /** Timed runs; the median is reported (default 3). */
  runs?: number;
  /** Untimed runs first, so every timed run reads the file from the page cache (default 1). */
  warmup?: number;
  /** Kill a run after this long (default 15 minutes). */
  timeoutMs?: number;
  cwd?: string;
  /** The child's environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export interface Measurement {
  label: string;
  command: string;
  /** Median wall time of the timed runs. */
  seconds: number;
  allSeconds: number[];
  /** Largest peak RSS over the timed runs, in MiB; null without GNU time. */
  peakRssMiB: number | null;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface OneRun {
  seconds: number;
  rssKiB: number | null;
}

function runOnce(cmd: string, args: string[], opts: MeasureOptions, scratch: string): Promise<OneRun> {
  const useTime = existsSync(GNU_TIME);
  const timeOut = join(scratch, 'time.txt');
  const argv = useTime ? [GNU_TIME, '-f', '%e %M', '-o', timeOut, cmd, ...args] : [cmd, ...args];
  const devNull = openSync('/dev/null', 'w');
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', devNull, 'pipe'], cwd: opts.cwd, env: opts.env });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15 * 60_000);
    child.once('close', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      clearTimeout(timer);
      closeSync(devNull);
      if (code !== 0) {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}: ${stderr.trim().slice(0, 1000)}`));
        return;
      }
      let rssKiB: number | null = null;
      if (useTime) {
        const fields = readFileSync(timeOut, 'utf8').trim().split('\n').pop()!.split(' ');
        rssKiB = Number(fields[1]);
      }
      resolve({ seconds, rssKiB });
    });
  });
}

/** Runs `cmd args` (stdout to /dev/null) warmup + runs times and reports the median. */
export async function measure(label: string, cmd: string, args: string[], opts: MeasureOptions = {}): Promise<Measurement> {
  const scratch = mkdtempSync(join(tmpdir(), 'tapline-bench-'));
  try {
    for (let i = 0; i < (opts.warmup ?? 1); i++) await runOnce(cmd, args, opts, scratch);
    const runs: OneRun[] = [];
    for (let i = 0; i < (opts.runs ?? 3); i++) runs.push(await runOnce(cmd, args, opts, scratch));
    const rss = runs.map((r) => r.rssKiB).filter((x): x is number => x !== null);
    return {
      label,
      command: [cmd, ...args].join(' '),
      seconds: median(runs.map((r) => r.seconds)),
      allSeconds: runs.map((r) => r.seconds),
      peakRssMiB: rss.length ? Math.max(...rss) / 1024 : null,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A command for measureAlternating. */
export interface Timed {
  label: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

/**
 * Like measure for several commands, their runs taken in turn (A B C A B C …) rather than
 * all of A's first: this machine's speed drifts by 10 % and more within minutes, and the
 * ratio of two commands timed minutes apart took that drift for a difference.
 */
export async function measureAlternating(commands: readonly Timed[], opts: MeasureOptions = {}): Promise<Measurement[]> {
  const scratch = mkdtempSync(join(tmpdir(), 'tapline-bench-'));
  try {
    const runs: OneRun[][] = commands.map(() => []);
    for (let i = 0; i < (opts.warmup ?? 1); i++) for (const c of commands) await runOnce(c.cmd, c.args, { ...opts, env: c.env }, scratch);
    for (let i = 0; i < (opts.runs ?? 3); i++) {
      for (let j = 0; j < commands.length; j++) runs[j]!.push(await runOnce(commands[j]!.cmd, commands[j]!.args, { ...opts, env: commands[j]!.env }, scratch));
    }
    return commands.map((c, j) => {
      const rss = runs[j]!.map((r) => r.rssKiB).filter((x): x is number => x !== null);
      return {
        label: c.label,
        command: [c.cmd, ...c.args].join(' '),
        seconds: median(runs[j]!.map((r) => r.seconds)),
        allSeconds: runs[j]!.map((r) => r.seconds),
        peakRssMiB: rss.length ? Math.max(...rss) / 1024 : null,
      };
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** First line of `cmd --version`, for the report. */
export function toolVersion(cmd: string, args: string[] = ['--version']): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim() !== '' && !l.startsWith('Running as user'))?.trim() ?? 'unknown';
}
