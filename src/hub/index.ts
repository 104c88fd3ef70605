/** The hub: the HTTP and WebSocket API of a tap (README.md). */
export { createHub, startHub, toHubError, redactTokenInUrl, DEFAULT_HUB_LIMITS } from './hub.js';
export type { HubOptions, HubLimits, HubStreamState } from './hub.js';
export { hubErrorCodes, HubError } from './errors.js';
export type { HubErrorCode, HubErrorBody } from './errors.js';
export { loadOrCreateToken, tokenMatches, checkToken, TOKEN_FILE, TOKEN_BYTES } from './token.js';
export { createTapMetrics, createHubMetrics, tapMetricNames, hubMetricNames } from './metrics.js';
export type { TapMetrics, TapTotals, HubMetrics } from './metrics.js';
export { createSendQueue, DEFAULT_SEND_QUEUE_LIMITS } from './send-queue.js';
export type { SendQueue, SendQueueLimits } from './send-queue.js';
export { STREAM_CLOSE } from './stream.js';
export type * from './types.js';
export { createMemoryEntrySource, createMemoryLive, createMemoryPcap, createMemoryStats, BadCursorError } from './memory-sources.js';
export type { MemoryEntrySource, MemoryLive, MemoryPcap } from './memory-sources.js';
