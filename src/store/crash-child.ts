/**
 * The writer side of the SIGKILL test (crash.test.ts): adds entries 0, 1, 2, … to the
 * store in the folder given as argv[2] for as long as it lives, and prints
 * `committed N` whenever the store reports more entries committed. Entries are added in
 * order and never dropped (it waits on drain()), so `committed N` means entries 0..N-1
 * are in the database.
 */
import { openEntryStore } from './index.js';
import { fixtureEntries, syntheticEntry } from './bench.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: crash-child.ts DIR [LOG_FROM_BYTES]');
const store = openEntryStore({ dir, flushIntervalMs: 50, batchSize: 500, logFromBytes: process.argv[3] !== undefined ? Number(process.argv[3]) : undefined });
const bases = await fixtureEntries();
let reported = 0;
setInterval(() => {
  if (store.committed > reported) {
    reported = store.committed;
    process.stdout.write(`committed ${reported}\n`);
  }
}, 5);
for (let i = 0; ; i++) {
  store.add(syntheticEntry(bases, i, 1_767_225_600_000));
  if (i % 200 === 199) {
    await store.drain();
    await new Promise((r) => setImmediate(r));
  }
}
