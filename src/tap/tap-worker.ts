// A dissection thread of `tapline tap`. Its entries are serialized into store rows here,
// off the capture thread, and packed in one buffer that the main thread hands on to the
// store's writer without copying (it reads them only when someone watches live).
import type { Entry } from '../entries/index.js';
import { serveFlowWorker } from '../pipeline/index.js';
import { encodeRows, type EncodedRows } from '../store/index.js';
import { giveEntryBodyBuffers, recycleBodyBuffers } from '../protocols/http/body.js';

export interface TapWorkerMessage {
  rows: EncodedRows;
  /** Entries in rows per protocol name. */
  byProtocol: Record<string, number>;
  /** Connections and UDP flows open in this thread now. */
  flows: number;
}

// Entries end here: once encoded into rows (which copy the bodies' bytes) nothing reads
// them, so their body buffers go back to the parser for the next bodies.
recycleBodyBuffers();

serveFlowWorker(() => {
  let entries: Entry[] = [];
  return {
    onEntry(entry) {
      entries.push(entry);
    },
    flush(flows) {
      const byProtocol: Record<string, number> = {};
      for (const e of entries) byProtocol[e.protocol.name] = (byProtocol[e.protocol.name] ?? 0) + 1;
      const rows = encodeRows(entries);
      for (const e of entries) giveEntryBodyBuffers(e);
      entries = [];
      return { message: { rows, byProtocol, flows: flows?.active ?? 0 } satisfies TapWorkerMessage, transfer: [rows.buf] };
    },
  };
});
