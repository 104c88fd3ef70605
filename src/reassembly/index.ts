export * from './types.js';
export { createFlowTable, type FlowTable, type FlowTableOptions } from './flow-table.js';
export type { FlowTableStats } from './stats.js';
export { isServerPort } from './ports.js';
