export { createPipeline, createFlowPipeline } from './pipeline.js';
export type { Pipeline, PipelineOptions, PipelineSummary, FlowPipeline, FlowPipelineSettings } from './pipeline.js';
export { createParallelPipeline, serveFlowWorker } from './parallel.js';
export type { ParallelOptions, ParallelPipeline, EntrySink, SinkOutput } from './parallel.js';
export { namedLimits, parseLimitOverrides, LimitError } from './limits.js';
export type { LimitOverrides } from './limits.js';
