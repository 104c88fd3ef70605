// A dissection thread of `tapline read`: reassembles, dissects, filters, renders and writes its flows.
import { serveFlowWorker } from '../pipeline/index.js';
import { createEntryPrinter, type PrinterSpec } from './entry-printer.js';

serveFlowWorker((spec) => createEntryPrinter(spec as PrinterSpec));
