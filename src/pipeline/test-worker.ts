// A dissection thread for the pipeline's tests: it sends its entries back with each batch's acknowledgement.
import type { Entry } from '../entries/index.js';
import { serveFlowWorker } from './parallel.js';

serveFlowWorker(() => {
  let entries: Entry[] = [];
  return {
    onEntry(entry) {
      entries.push(entry);
    },
    flush() {
      const message = entries;
      entries = [];
      return { message };
    },
  };
});
