import type { Entry } from '../entries/index.js';
import type { CompiledQuery } from '../kfl/index.js';
import type { EntrySink, SinkOutput } from '../pipeline/index.js';
import { FdLineWriter, LineBlocks, outputFull, type SharedOutput } from './fd-writer.js';
import { entryJsonParts, nativeJsonText } from './json-line.js';
import { tableRow } from './table.js';
import { giveBodyBuffer, recycleBodyBuffers } from '../protocols/http/body.js';

export interface PrinterSpec {
  format: 'jsonl' | 'table';
  /** The KFL query (each thread compiles it for itself: compiled queries are functions, which do not cross threads). */
  kfl?: string;
  /** The output all threads share (a SharedArrayBuffer crosses to workers). */
  output: SharedOutput;
  fd: number;
  /**
   * Keep the lines instead of writing them: `flush` hands them over (as the sink's message,
   * buffers transferred) for OrderedOutput to write in order.
   */
  collect?: boolean;
  /**
   * This printer is the last to look at each entry (no query, nothing else holds them): the
   * buffers of the bodies it has written go back to the parser for the next bodies
   * (recycleBodyBuffers). Set by `tapline read`; it must be on the thread that parses.
   */
  recycleBodies?: boolean;
}

/** Filters entries by `query` (spec.kfl compiled), applies its redactions, renders them as lines and writes (or collects) them. */
export function createEntryPrinter(spec: PrinterSpec, query: CompiledQuery | undefined): EntrySink {
  const collected = spec.collect === true ? new LineBlocks() : undefined;
  const direct = collected === undefined ? new FdLineWriter(spec.fd, spec.output) : undefined;
  const writer = collected ?? direct!;
  const jsonl = spec.format === 'jsonl';
  const recycle = spec.recycleBodies === true && query === undefined && jsonl && nativeJsonText !== null;
  if (recycle) recycleBodyBuffers();
  return {
    onEntry(entry: Entry) {
      if (query !== undefined) {
        if (!query.match(entry)) return;
        if (outputFull(spec.output)) return;
        if (query.redact.length > 0) entry = query.apply(entry);
      }
      if (!jsonl) writer.line(tableRow(entry));
      else if (nativeJsonText === null) writer.line(JSON.stringify(entry));
      else {
        const parts = entryJsonParts(entry, nativeJsonText);
        writer.lineParts(parts, nativeJsonText);
        if (recycle) for (const p of parts) if (typeof p !== 'string') giveBodyBuffer(p.bytes);
      }
    },
    flush(): SinkOutput | void {
      if (direct !== undefined) {
        direct.flush();
        return;
      }
      const blocks = collected!.take();
      return { message: blocks, transfer: blocks.map((b) => b.bytes.buffer as ArrayBuffer) };
    },
  };
}
