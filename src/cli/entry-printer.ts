import type { Entry } from '../entries/index.js';
import { compile } from '../kfl/index.js';
import type { EntrySink } from '../pipeline/index.js';
import { tableRow } from './table.js';

export interface PrinterSpec {
  format: 'jsonl' | 'table';
  /** A KFL query already checked by the caller. */
  kfl?: string;
}

/** Filters entries by KFL, applies its redactions, and renders them as lines of text. */
export function createEntryPrinter(spec: PrinterSpec): EntrySink {
  const query = spec.kfl === undefined ? undefined : compile(spec.kfl);
  let parts: string[] = [];
  let lines = 0;
  return {
    onEntry(entry: Entry) {
      if (query !== undefined) {
        if (!query.match(entry)) return;
        entry = query.apply(entry) as Entry;
      }
      parts.push(spec.format === 'jsonl' ? JSON.stringify(entry) : tableRow(entry), '\n');
      lines++;
    },
    take() {
      if (lines === 0) return undefined;
      const out = { text: parts.join(''), lines };
      parts = [];
      lines = 0;
      return out;
    },
  };
}
