import type { Entry } from '../entries/index.js';
import { compile } from '../kfl/index.js';
import type { EntrySink } from '../pipeline/index.js';
import { FdLineWriter, type SharedOutput } from './fd-writer.js';
import { entryJsonParts, nativeJsonText } from './json-line.js';
import { tableRow } from './table.js';

export interface PrinterSpec {
  format: 'jsonl' | 'table';
  /** A KFL query already checked by the caller. */
  kfl?: string;
  /** The output all threads share (a SharedArrayBuffer crosses to workers). */
  output: SharedOutput;
  fd: number;
}

/** Filters entries by KFL, applies its redactions, renders them as lines and writes them. */
export function createEntryPrinter(spec: PrinterSpec): EntrySink & { readonly writer: FdLineWriter } {
  const query = spec.kfl === undefined ? undefined : compile(spec.kfl);
  const writer = new FdLineWriter(spec.fd, spec.output);
  const jsonl = spec.format === 'jsonl';
  return {
    writer,
    onEntry(entry: Entry) {
      if (query !== undefined) {
        if (!query.match(entry)) return;
        if (writer.full) return;
        if (query.redact.length > 0) entry = query.apply(entry);
      }
      if (!jsonl) writer.line(tableRow(entry));
      else if (nativeJsonText === null) writer.line(JSON.stringify(entry));
      else writer.lineParts(entryJsonParts(entry, nativeJsonText), nativeJsonText);
    },
    flush: () => writer.flush(),
  };
}
