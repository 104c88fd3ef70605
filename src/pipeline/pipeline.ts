import { IssueCounter } from '../common/issues.js';
import type { RawPacket } from '../capture/types.js';
import { createDecoder } from '../decode/index.js';
import type { DecodeLimits } from '../decode/types.js';
import { createFlowTable } from '../reassembly/index.js';
import type { ReassemblyLimits } from '../reassembly/types.js';
import { registry as defaultRegistry } from '../protocols/index.js';
import { createDispatcher, type DetectionLimits } from '../protocols/dispatch.js';
import type { ProtocolRegistry } from '../protocols/registry.js';
import { defaultParserSettings, type ParserSettings } from '../protocols/types.js';
import { createEntryBuilder, type Entry } from '../entries/index.js';

export interface PipelineOptions {
  onEntry(entry: Entry): void;
  nodeName?: string;
  registry?: ProtocolRegistry;
  settings?: Partial<ParserSettings>;
  decodeLimits?: Partial<DecodeLimits>;
  reassemblyLimits?: Partial<ReassemblyLimits>;
  protocolLimits?: Record<string, Record<string, number>>;
  detection?: Partial<DetectionLimits>;
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

export interface Pipeline {
  /** One captured packet, in capture order. */
  push(packet: RawPacket): void;
  /** End of input: close every flow, emit what is pending, and tell what was seen. */
  finish(): PipelineSummary;
  readonly issues: IssueCounter;
}

/** source → decode → flows/reassembly → protocol detection and parsers → entries. */
export function createPipeline(opts: PipelineOptions): Pipeline {
  const issues = new IssueCounter();
  const build = createEntryBuilder({ nodeName: opts.nodeName ?? 'local' });
  let entries = 0;
  const onEntry = opts.onEntry;
  const decoder = createDecoder({ limits: opts.decodeLimits, issues });
  const flows = createFlowTable({
    limits: opts.reassemblyLimits,
    issues,
    createHandler: createDispatcher({
      registry: opts.registry ?? defaultRegistry,
      settings: { ...defaultParserSettings, ...opts.settings },
      issues,
      protocolLimits: opts.protocolLimits,
      detection: opts.detection,
      onItem(conn, item, index) {
        entries++;
        onEntry(build(conn, item, index));
      },
    }),
  });
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
    finish() {
      flows.flush();
      const s = flows.stats;
      return { packets, bytes, flows: s.flows, entries, gaps: s.gaps, gapBytes: s.gapBytes, issues: issues.toJSON() };
    },
  };
}
