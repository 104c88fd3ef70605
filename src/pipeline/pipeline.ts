import { IssueCounter } from '../common/issues.js';
import type { RawPacket } from '../capture/types.js';
import { createDecoder } from '../decode/index.js';
import type { DecodedPacket, DecodeLimits } from '../decode/types.js';
import { createFlowTable } from '../reassembly/index.js';
import type { ReassemblyLimits } from '../reassembly/types.js';
import { registry as defaultRegistry } from '../protocols/index.js';
import { createDispatcher, type DetectionLimits } from '../protocols/dispatch.js';
import type { ProtocolRegistry } from '../protocols/registry.js';
import { defaultParserSettings, type ParserSettings } from '../protocols/types.js';
import { createEntryBuilder, type Entry } from '../entries/index.js';

/** Settings of the stages after decoding; plain data, so they can cross to a worker thread. */
export interface FlowPipelineSettings {
  nodeName?: string;
  settings?: Partial<ParserSettings>;
  reassemblyLimits?: Partial<ReassemblyLimits>;
  protocolLimits?: Record<string, Record<string, number>>;
  detection?: Partial<DetectionLimits>;
  /** Stream ids are `streamIdStart + k * streamIdStep`: threads sharing a capture never clash. */
  streamIdStart?: number;
  streamIdStep?: number;
}

export interface PipelineOptions extends FlowPipelineSettings {
  onEntry(entry: Entry): void;
  registry?: ProtocolRegistry;
  decodeLimits?: Partial<DecodeLimits>;
}

export interface PipelineSummary {
  packets: number;
  /** Captured bytes (sum of capLen). */
  bytes: number;
  flows: number;
  entries: number;
  gaps: number;
  gapBytes: number;
  /** Issue codes of every stage with their counts. */
  issues: Record<string, number>;
}

export interface FlowPipeline {
  add(packet: DecodedPacket): void;
  /** Connections and UDP flows open now. */
  activeFlows(): number;
  /** Time passes without packets (FlowTable.advance): a live source's clock. */
  advance(tsSec: number, tsNsec: number): void;
  /** End of input: close every flow and emit what is pending. */
  finish(): Omit<PipelineSummary, 'packets' | 'bytes'>;
  readonly issues: IssueCounter;
}

export interface Pipeline {
  /** One captured packet, in capture order. */
  push(packet: RawPacket): void;
  /** Time passes without packets (FlowTable.advance): a live source's clock. */
  advance(tsSec: number, tsNsec: number): void;
  /** End of input: close every flow, emit what is pending, and tell what was seen. */
  finish(): PipelineSummary;
  readonly issues: IssueCounter;
}

/** flows/reassembly → protocol detection and parsers → entries. */
export function createFlowPipeline(opts: FlowPipelineSettings & { onEntry(entry: Entry): void; registry?: ProtocolRegistry; issues?: IssueCounter }): FlowPipeline {
  const issues = opts.issues ?? new IssueCounter();
  const build = createEntryBuilder({ nodeName: opts.nodeName ?? 'local' });
  const onEntry = opts.onEntry;
  const settings = { ...defaultParserSettings, ...opts.settings };
  let entries = 0;
  const flows = createFlowTable({
    idleNoticeSec: settings.pairTimeoutSec > 0 ? settings.pairTimeoutSec : undefined,
    limits: opts.reassemblyLimits,
    issues,
    firstStreamId: opts.streamIdStart,
    streamIdStep: opts.streamIdStep,
    createHandler: createDispatcher({
      registry: opts.registry ?? defaultRegistry,
      settings,
      issues,
      protocolLimits: opts.protocolLimits,
      detection: opts.detection,
      onItem(conn, item, index) {
        entries++;
        onEntry(build(conn, item, index));
      },
    }),
  });
  return {
    issues,
    add: (p) => flows.add(p),
    activeFlows: () => flows.stats.active,
    advance: (sec, nsec) => flows.advance(sec, nsec),
    finish() {
      flows.flush();
      const s = flows.stats;
      return { flows: s.flowsSeen, entries, gaps: s.gaps, gapBytes: s.gapBytes, issues: issues.toJSON() };
    },
  };
}

/** source → decode → flows/reassembly → protocol detection and parsers → entries, on this thread. */
export function createPipeline(opts: PipelineOptions): Pipeline {
  const issues = new IssueCounter();
  const decoder = createDecoder({ limits: opts.decodeLimits, issues });
  const flows = createFlowPipeline({ ...opts, issues });
  let packets = 0;
  let bytes = 0;
  return {
    issues,
    push(packet) {
      packets++;
      bytes += packet.capLen;
      const decoded = decoder.decode(packet);
      if (decoded !== null) flows.add(decoded);
    },
    advance: (sec, nsec) => flows.advance(sec, nsec),
    finish() {
      return { packets, bytes, ...flows.finish() };
    },
  };
}
