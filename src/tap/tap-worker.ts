// A dissection thread of `tapline tap`: its entries go back to the main thread, which
// stores them, streams them to API clients and shows them on the terminal.
import type { Entry } from '../entries/index.js';
import { postToMain, serveFlowWorker } from '../pipeline/index.js';

export interface TapWorkerMessage {
  entries: Entry[];
  /** Connections and UDP flows open in this thread now. */
  flows: number;
}

serveFlowWorker(() => {
  let entries: Entry[] = [];
  return {
    onEntry(entry) {
      entries.push(entry);
    },
    flush(flows) {
      postToMain({ entries, flows: flows?.active ?? 0 } satisfies TapWorkerMessage);
      entries = [];
    },
  };
});
