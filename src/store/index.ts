/** The embedded entry store: SQLite (WAL) on local disk, queried with KFL push-down. See README.md. */
export { openEntryStore, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './store.js';
export type { EntryStore, EntryStoreOptions, RetentionOptions, QueryOptions, QueryResult, IterateOptions, StoreStats } from './store.js';
export { StoreError, storeErrorCodes, type StoreErrorCode } from './errors.js';
export { encodeRows, decodeEntries, type EncodedRows } from './schema.js';
