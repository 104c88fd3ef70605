import type { ConnectionInfo, Direction } from '../reassembly/types.js';

export type ProbeResult = 'match' | 'no' | 'more';

/** What an entry says of its protocol (DESIGN.md: `protocol`). */
export interface ProtocolTag {
  name: string;
  version: string;
  abbr: string;
  layer4: 'tcp' | 'udp';
}

/**
 * One request/response pair (or a lone half) a parser recognised. The entries layer
 * turns it into an Entry (ids, endpoints, identity, timings).
 */
export interface ParsedItem {
  protocol: ProtocolTag;
  request?: Record<string, unknown>;
  response?: Record<string, unknown>;
  /** L7 bytes on the wire. */
  requestSize: number;
  responseSize: number;
  /** First packet of the request (or of whatever half was seen first). */
  startSec: number;
  startNsec: number;
  /** Last packet of the response (or of the request when there is no response). */
  endSec: number;
  endNsec: number;
  /** The request travelled server → client of ConnectionInfo (the flow's roles were guessed wrong). */
  reversed?: boolean;
  error?: { type: string; msg: string };
  /** Issue codes met while parsing this item (`http.header_too_long`, `tcp.gap`, …). */
  issues?: string[];
}

export interface ParserContext {
  readonly conn: ConnectionInfo;
  /** The protocol's limits, defaults merged with configuration. */
  readonly limits: Readonly<Record<string, number>>;
  /** Settings shared by all protocols (body text cap, …). */
  readonly settings: Readonly<ParserSettings>;
  emit(item: ParsedItem): void;
  /** The bytes are certainly this protocol (Zeek's "confirmed"). */
  confirm(): void;
  /** The bytes are not this protocol: the flow stops being parsed as it (Zeek's "violation"). */
  violation(code: string, detail?: string): void;
  /** Right protocol, odd traffic: counted (Zeek's "weird"). */
  weird(code: string): void;
}

export interface ParserSettings {
  /** Bytes of a body kept as text on the entry; longer bodies are cut and marked. */
  maxBodyText: number;
  /** Seconds a request waits for its response before it becomes a `pair-not-found` entry. */
  pairTimeoutSec: number;
  /**
   * gzip bodies are kept compressed and decoded when the entry is read (resolveDeferred in
   * src/entries/deferred.ts) instead of on the dissection thread: `tapline tap` sets it,
   * whose entries are read from the store; an entry as emitted then holds `deferred` data.
   */
  deferGzipBodies: boolean;
  /**
   * Body text stays bytes until it is read (lazyText in src/protocols/http/lazy-text.ts):
   * `tapline read` sets it, whose JSON printer writes the bytes without making the string,
   * and `tapline tap`, whose store writes the bytes as they are (src/store/split-form.ts).
   * Where every entry's text is read as a string anyway it only adds the accessor's cost.
   */
  lazyBodyText: boolean;
  /**
   * DNS records keep their message's bytes beside them (src/protocols/dns/wire.ts), which
   * the store writes in their place: `tapline tap` sets it.
   */
  dnsWire: boolean;
  /**
   * HTTP records keep their head's text beside them (src/protocols/http/kept-head.ts), which
   * the store writes in place of the fields made from it: `tapline tap` sets it.
   */
  httpHeads: boolean;
}

export const defaultParserSettings: ParserSettings = {
  maxBodyText: 64 * 1024,
  pairTimeoutSec: 10,
  deferGzipBodies: false,
  lazyBodyText: false,
  dnsWire: false,
  httpHeads: false,
};

/**
 * What a dissection thread whose entries go to the store sets (`tapline tap`): gzip bodies
 * are decoded when their entries are read, body texts stay bytes, and DNS messages and
 * HTTP heads are written in place of the records' JSON. The tests of the stored form use
 * the same.
 */
export const storeParserSettings: Readonly<Partial<ParserSettings>> = {
  deferGzipBodies: true,
  lazyBodyText: true,
  dnsWire: true,
  httpHeads: true,
};

/** An incremental parser for one flow: bytes in (by direction), items out through ctx.emit. */
export interface ProtocolParser {
  onData(dir: Direction, data: Buffer, tsSec: number, tsNsec: number): void;
  onGap(dir: Direction, length: number, tsSec: number, tsNsec: number): void;
  /** The flow ended: emit what is pending (unanswered requests become `pair-not-found`). */
  onClose(tsSec: number, tsNsec: number): void;
  /**
   * Time went on with no data of this flow (FlowHandler.onIdle): requests that waited
   * longer than pairTimeoutSec for their answer become `pair-not-found` entries now.
   */
  onIdle?(tsSec: number, tsNsec: number): void;
}

export interface ProtocolDefinition {
  name: string;
  transport: 'tcp' | 'udp' | 'both';
  /** Ports where this protocol is usual: probed first, never required. */
  portHints: readonly number[];
  /**
   * Looks at the first bytes of one direction of a flow (for UDP, one datagram):
   * `match` (this protocol), `no`, or `more` (too few bytes to tell).
   */
  probe(data: Buffer, dir: Direction, conn: ConnectionInfo): ProbeResult;
  createParser(ctx: ParserContext): ProtocolParser;
  /** Named limits and their defaults. */
  limits: Readonly<Record<string, number>>;
}

export function defineProtocol(def: ProtocolDefinition): ProtocolDefinition {
  return def;
}
