export type { Entry, EntryEndpoint } from './entry.js';
export { createEntryBuilder } from './builder.js';
export type { EntryBuilder, EntryBuilderOptions } from './builder.js';
export { hasDeferred, resolveDeferred } from './deferred.js';
