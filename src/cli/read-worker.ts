// A dissection thread of `tapline read`: reassembles, dissects, filters and renders its flows; the reading thread writes the lines.
import { workerData } from 'node:worker_threads';
import { serveFlowWorker } from '../pipeline/index.js';
import { createEntryPrinter, type PrinterSpec } from './entry-printer.js';

const spec = (workerData as { sinkData: PrinterSpec }).sinkData;
// KFL is loaded only when there is a query (the reading thread checked it already).
const query = spec.kfl === undefined ? undefined : (await import('../kfl/index.js')).compile(spec.kfl);
serveFlowWorker(() => createEntryPrinter(spec, query));
