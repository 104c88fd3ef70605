/**
 * Small in-memory implementations of the hub's interfaces (types.ts), for the hub's tests
 * and for running the hub without a store or ring. They keep the same contracts as the
 * real ones: KFL applied whole, keyset paging on (timestamp, id), coded errors.
 */
import type { Entry } from '../entries/index.js';
import { compile, type CompileOptions } from '../kfl/index.js';
import type {
  EntryPage,
  EntryQuery,
  HubEntrySource,
  HubLive,
  HubPcapSource,
  HubStats,
  HubStatsSnapshot,
  HubStoreStats,
  PcapExportRequest,
} from './types.js';

/** The error a source throws for a cursor it did not make (the hub maps it to api.bad_param). */
export class BadCursorError extends Error {
  readonly code = 'store.bad_cursor';
}

/** (timestamp, id) of the last entry of a page, base64url JSON: opaque to clients. */
function encodeCursor(e: Entry): string {
  return Buffer.from(JSON.stringify([e.timestamp, e.id])).toString('base64url');
}

function decodeCursor(cursor: string): [number, string] {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    // fall through
  }
  throw new BadCursorError('not a cursor this store made');
}

/** <0 when a sorts before b in ascending (timestamp, id) order. */
function compareKey(ts: number, id: string, e: Entry): number {
  if (ts !== e.timestamp) return ts < e.timestamp ? -1 : 1;
  return id < e.id ? -1 : id > e.id ? 1 : 0;
}

export interface MemoryEntrySource extends HubEntrySource {
  add(...entries: Entry[]): void;
}

export function createMemoryEntrySource(kflOptions: CompileOptions = {}): MemoryEntrySource {
  const byId = new Map<string, Entry>();
  let bytes = 0;
  return {
    add(...entries: Entry[]): void {
      for (const e of entries) {
        byId.set(e.id, e);
        bytes += JSON.stringify(e).length;
      }
    },
    query(q: EntryQuery): EntryPage {
      const kfl = compile(q.kfl ?? '', kflOptions);
      const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
      const desc = (q.order ?? 'desc') === 'desc';
      const limit = Math.min(q.limit ?? 100, kfl.limit ?? Infinity);
      const hits = [...byId.values()].filter(
        (e) =>
          (q.from === undefined || e.timestamp >= q.from) &&
          (q.to === undefined || e.timestamp < q.to) &&
          (after === undefined || (desc ? compareKey(after[0], after[1], e) > 0 : compareKey(after[0], after[1], e) < 0)) &&
          kfl.match(e),
      );
      hits.sort((a, b) => (desc ? -1 : 1) * compareKey(a.timestamp, a.id, b));
      const page = hits.slice(0, limit).map((e) => kfl.apply(e));
      const out: EntryPage = { entries: page };
      if (hits.length > limit) out.cursor = encodeCursor(page[page.length - 1]);
      return out;
    },
    get(id: string): Entry | undefined {
      return byId.get(id);
    },
    stats(): HubStoreStats {
      const ts = [...byId.values()].map((e) => e.timestamp);
      const s: HubStoreStats = { entries: byId.size, bytes };
      if (ts.length > 0) {
        s.oldest = Math.min(...ts);
        s.newest = Math.max(...ts);
      }
      return s;
    },
  };
}

export interface MemoryLive extends HubLive {
  publish(entry: Entry): void;
  readonly subscribers: number;
  /** Resolves once exactly `n` subscribers are in place (tests wait on it instead of sleeping). */
  whenSubscribers(n: number): Promise<void>;
}

/** Calls every subscriber synchronously, as the tap's entry fan-out does. */
export function createMemoryLive(): MemoryLive {
  const subs = new Set<(e: Entry) => void>();
  let waiters: { n: number; resolve: () => void }[] = [];
  const settle = (): void => {
    const ready = waiters.filter((w) => w.n === subs.size);
    waiters = waiters.filter((w) => w.n !== subs.size);
    for (const w of ready) w.resolve();
  };
  return {
    subscribe(onEntry) {
      // A wrapper per call, so one callback subscribed twice counts twice.
      const sub = (e: Entry): void => onEntry(e);
      subs.add(sub);
      settle();
      return () => {
        if (subs.delete(sub)) settle();
      };
    },
    publish(entry) {
      for (const s of subs) s(entry);
    },
    get subscribers() {
      return subs.size;
    },
    whenSubscribers(n) {
      if (subs.size === n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

export function createMemoryStats(snapshot: HubStatsSnapshot): HubStats {
  return { snapshot: () => structuredClone(snapshot) };
}

export interface MemoryPcap extends HubPcapSource {
  /** The requests it was given, in order. */
  readonly requests: PcapExportRequest[];
}

/**
 * Writes `file` in chunks of `chunk` bytes (honouring back-pressure), as the ring streams
 * a PCAPNG it builds; a filter equal to `badFilter` is refused before a byte is written.
 */
export function createMemoryPcap(file: Buffer, packets: number, opts: { chunk?: number; badFilter?: string } = {}): MemoryPcap {
  const requests: PcapExportRequest[] = [];
  const chunk = opts.chunk ?? 4096;
  return {
    requests,
    async exportPcap(req, out) {
      requests.push(req);
      if (req.kfl !== undefined) compile(req.kfl);
      if (opts.badFilter !== undefined && req.filter === opts.badFilter) {
        throw Object.assign(new Error(`syntax error in filter expression: ${req.filter}`), { code: 'pcap.bad_filter' });
      }
      for (let at = 0; at < file.length; at += chunk) {
        if (!out.write(file.subarray(at, at + chunk))) await new Promise((resolve) => out.once('drain', resolve));
      }
      return { packets };
    },
  };
}
