export * from './types.js';
export {
  createCaptureParser,
  createPcapRecordParser,
  type CaptureParser,
  type CaptureParserOptions,
  type CaptureFormat,
  type PcapRecordParserOptions,
  type TsResolution,
} from './capture-parser.js';
export { readCaptureFile, readCaptureStream, captureFileProblem, DEFAULT_CHUNK_BYTES, type ReadCaptureOptions } from './read-file.js';
export { DEFAULT_LIMITS, type CaptureLimits, type ReaderOptions } from './record-reader.js';
