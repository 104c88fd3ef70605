export { createPipeline } from './pipeline.js';
export type { Pipeline, PipelineOptions, PipelineSummary } from './pipeline.js';
