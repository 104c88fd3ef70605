/**
 * The store's coded errors. Bad user input to a query (cursor, limit, time bounds) is a
 * StoreError the API turns into a 400; a bad KFL query is the KflError that compile()
 * throws, passed through unchanged so its span reaches the client.
 */
export const storeErrorCodes = {
  'store.bad_option': 'an option of openEntryStore that is not valid',
  'store.bad_cursor': 'a cursor this store did not hand out, or one made for the other order',
  'store.bad_limit': 'a page size that is not a whole number ≥ 1',
  'store.bad_order': "an order other than 'asc' or 'desc'",
  'store.bad_time': 'a from/to bound that is not a finite number of ms',
  'store.closed': 'the store was used after close()',
  'store.damaged_entry': 'a stored entry that cannot be read back (cut short, or a slot this Tapline does not know)',
  'store.write_failed': 'the writer could not commit a batch (its entries are lost and counted)',
  'store.writer_exited': 'the writer thread stopped',
} as const;

export type StoreErrorCode = keyof typeof storeErrorCodes;

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
  }

  toJSON(): { code: StoreErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}
