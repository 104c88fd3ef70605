import type { IssueCounter } from '../common/issues.js';
import type { CloseReason, ConnectionInfo, Direction, FlowHandler } from '../reassembly/types.js';
import type { ProtocolRegistry } from './registry.js';
import type { ParsedItem, ParserContext, ParserSettings, ProtocolDefinition, ProtocolParser } from './types.js';

/** Named limits of protocol detection. */
export interface DetectionLimits {
  /** Bytes of one direction buffered while probes answer `more` (`protocol.probe_bytes_limit`). */
  maxProbeBytes: number;
  /**
   * Chunks (TCP segments, UDP datagrams) re-probed after every probe said `no`, before
   * the flow is given up as unknown. Re-probing at chunk starts is how a connection picked
   * up mid-body finds the next message (`protocol.unknown`).
   */
  maxProbeChunks: number;
}

export const defaultDetectionLimits: DetectionLimits = { maxProbeBytes: 16 * 1024, maxProbeChunks: 32 };

export interface DispatcherOptions {
  registry: ProtocolRegistry;
  settings: ParserSettings;
  issues: IssueCounter;
  /** Per-protocol limit overrides: `{ http: { maxHeaderBytes: 65536 } }`. */
  protocolLimits?: Record<string, Record<string, number>>;
  detection?: Partial<DetectionLimits>;
  /** Called for every item a parser emits, with its position in the stream. */
  onItem(conn: ConnectionInfo, item: ParsedItem, index: number): void;
}

interface Pending {
  dir: Direction;
  data: Buffer;
  sec: number;
  nsec: number;
}

const PROBING = 0;
const PARSING = 1;
const IGNORED = 2;

/** Makes the FlowHandler that detects a flow's protocol by content and then drives its parser. */
export function createDispatcher(opts: DispatcherOptions): (conn: ConnectionInfo) => FlowHandler {
  const detection = { ...defaultDetectionLimits, ...opts.detection };
  const mergedLimits = new Map<string, Readonly<Record<string, number>>>();
  for (const def of opts.registry.all) {
    mergedLimits.set(def.name, Object.freeze({ ...def.limits, ...opts.protocolLimits?.[def.name] }));
  }
  return (conn) => new ProtocolDispatch(conn, opts, detection, mergedLimits);
}

class ProtocolDispatch implements FlowHandler {
  private state = PROBING;
  private parser: ProtocolParser | null = null;
  private protocol: ProtocolDefinition | null = null;
  private readonly pending: Pending[] = [];
  private readonly probeBuf: [Buffer | null, Buffer | null] = [null, null];
  private probedChunks = 0;
  private index = 0;

  constructor(
    private readonly conn: ConnectionInfo,
    private readonly opts: DispatcherOptions,
    private readonly detection: DetectionLimits,
    private readonly limits: Map<string, Readonly<Record<string, number>>>,
  ) {}

  onData(dir: Direction, data: Buffer, sec: number, nsec: number): void {
    if (this.state === PARSING) {
      try {
        this.parser!.onData(dir, data, sec, nsec);
      } catch (err) {
        this.fail(err);
      }
    } else if (this.state === PROBING && data.length > 0) {
      this.probe(dir, data, sec, nsec);
    }
  }

  onGap(dir: Direction, length: number, sec: number, nsec: number): void {
    if (this.state === PARSING) {
      try {
        this.parser!.onGap(dir, length, sec, nsec);
      } catch (err) {
        this.fail(err);
      }
    } else if (this.state === PROBING) {
      this.dropPending(dir); // bytes before a hole cannot be joined to bytes after it
    }
  }

  onClose(_reason: CloseReason, sec: number, nsec: number): void {
    if (this.state === PARSING) {
      try {
        this.parser!.onClose(sec, nsec);
      } catch (err) {
        this.fail(err);
      }
    } else if (this.state === PROBING && this.probedChunks > 0) this.opts.issues.count('protocol.unknown');
    this.state = IGNORED;
    this.parser = null;
    this.pending.length = 0;
  }

  onIdle(sec: number, nsec: number): void {
    if (this.state !== PARSING || this.parser!.onIdle === undefined) return;
    try {
      this.parser!.onIdle(sec, nsec);
    } catch (err) {
      this.fail(err);
    }
  }

  private probe(dir: Direction, data: Buffer, sec: number, nsec: number): void {
    const udp = this.conn.transport === 'udp';
    const prior = udp ? null : this.probeBuf[dir];
    const buf = prior === null ? data : Buffer.concat([prior, data]);
    let waiting = false;
    for (const def of this.opts.registry.candidates(this.conn.transport, this.conn.client.port, this.conn.server.port)) {
      const answer = def.probe(buf, dir, this.conn);
      if (answer === 'match') {
        this.pending.push({ dir, data, sec, nsec });
        this.start(def);
        return;
      }
      if (answer === 'more' && !udp) waiting = true;
    }
    if (waiting && buf.length < this.detection.maxProbeBytes) {
      // Kept past this call, so copied: the caller's bytes may be a live batch that goes
      // back to the capture thread to be filled again (src/pipeline/batch-reuse.test.ts).
      const kept = Buffer.from(data);
      this.pending.push({ dir, data: kept, sec, nsec });
      this.probeBuf[dir] = prior === null ? kept : buf;
      return;
    }
    if (waiting) this.opts.issues.count('protocol.probe_bytes_limit');
    this.dropPending(dir);
    if (++this.probedChunks >= this.detection.maxProbeChunks) {
      this.opts.issues.count('protocol.unknown');
      this.state = IGNORED;
      this.pending.length = 0;
    }
  }

  private dropPending(dir: Direction): void {
    this.probeBuf[dir] = null;
    let w = 0;
    for (const p of this.pending) if (p.dir !== dir) this.pending[w++] = p;
    this.pending.length = w;
  }

  private start(def: ProtocolDefinition): void {
    this.protocol = def;
    this.state = PARSING;
    this.parser = def.createParser(this.context(def));
    const replay = this.pending.splice(0);
    this.probeBuf[0] = this.probeBuf[1] = null;
    for (const p of replay) {
      if (this.state !== PARSING) break;
      try {
        this.parser!.onData(p.dir, p.data, p.sec, p.nsec);
      } catch (err) {
        this.fail(err);
      }
    }
  }

  private context(def: ProtocolDefinition): ParserContext {
    const self = this;
    const issues = this.opts.issues;
    return {
      conn: this.conn,
      limits: this.limits.get(def.name)!,
      settings: this.opts.settings,
      emit(item) {
        self.opts.onItem(self.conn, item, self.index++);
      },
      confirm() {},
      violation(code) {
        issues.count(code);
        issues.count('protocol.violation');
        self.state = IGNORED;
        self.parser = null;
      },
      weird(code) {
        issues.count(code);
      },
    };
  }

  /** A parser that throws has a bug; the flow stops being parsed and capture goes on. */
  private fail(err: unknown): void {
    this.opts.issues.count(`${this.protocol?.name ?? 'protocol'}.parser_exception`);
    if (process.env.TAPLINE_DEBUG) console.error(err);
    this.state = IGNORED;
    this.parser = null;
  }
}
