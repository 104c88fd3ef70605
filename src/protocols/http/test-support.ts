/** A fake ParserContext for the HTTP tests: collects items, weirds and violations. */
import { defaultParserSettings, type ParsedItem, type ParserSettings } from '../types.js';
import { sampleConn, type SampleChunk } from '../conformance.js';
import type { ConnectionInfo } from '../../reassembly/types.js';
import { http } from './index.js';
import { HttpParser } from './parser.js';

export interface Step extends Partial<SampleChunk> {
  dir: 0 | 1;
  /** A gap of this many bytes instead of data. */
  gap?: number;
  /** Time passes with no data instead (onIdle, at `sec`/`nsec`). */
  idle?: boolean;
}

export interface Result {
  items: ParsedItem[];
  weirds: string[];
  violations: string[];
  confirmed: number;
  parser: HttpParser;
}

export function drive(
  steps: readonly Step[],
  opts: { limits?: Record<string, number>; settings?: Partial<ParserSettings>; conn?: ConnectionInfo; close?: boolean } = {},
): Result {
  const out: Omit<Result, 'parser'> = { items: [], weirds: [], violations: [], confirmed: 0 };
  let stopped = false;
  const conn = opts.conn ?? sampleConn('tcp');
  const parser = http.createParser({
    conn,
    limits: { ...http.limits, ...opts.limits },
    settings: { ...defaultParserSettings, ...opts.settings },
    emit: (item) => out.items.push(item),
    confirm: () => out.confirmed++,
    violation: (code) => {
      out.violations.push(code);
      stopped = true;
    },
    weird: (code) => out.weirds.push(code),
  }) as HttpParser;
  let sec = conn.startSec;
  let nsec = 0;
  for (const s of steps) {
    if (stopped) break;
    sec = s.sec ?? sec;
    nsec = s.nsec ?? nsec;
    if (s.idle === true) parser.onIdle(sec, nsec);
    else if (s.gap !== undefined) parser.onGap(s.dir, s.gap, sec, nsec);
    else parser.onData(s.dir, s.data!, sec, nsec);
  }
  if (!stopped && opts.close !== false) parser.onClose(sec, nsec);
  return { ...out, parser };
}

/** Every way of cutting the data steps in two (each step at each byte), plus one byte per step. */
export function* splits(steps: readonly Step[]): Generator<{ label: string; steps: Step[] }> {
  for (let i = 0; i < steps.length; i++) {
    const d = steps[i].data;
    if (d === undefined) continue;
    for (let k = 1; k < d.length; k++) {
      yield {
        label: `step ${i} split at ${k}`,
        steps: [...steps.slice(0, i), { ...steps[i], data: d.subarray(0, k) }, { ...steps[i], data: d.subarray(k) }, ...steps.slice(i + 1)],
      };
    }
  }
  const bytewise: Step[] = [];
  for (const s of steps) {
    if (s.data === undefined) bytewise.push(s);
    else for (let k = 0; k < s.data.length; k++) bytewise.push({ ...s, data: s.data.subarray(k, k + 1) });
  }
  yield { label: 'one byte per step', steps: bytewise };
}

export const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
