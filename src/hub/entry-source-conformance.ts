/**
 * The conformance suite of `HubEntrySource` (types.ts): every implementation (the
 * in-memory one here, the SQLite store in src/store/) runs the same tests, so the hub's
 * paging and error contracts hold whichever is plugged in. Use it from a test file:
 *
 *   runEntrySourceConformance('sqlite store', async () => { … return { source, add, close } });
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Entry } from '../entries/index.js';
import { KflError } from '../kfl/index.js';
import { testEntry } from './test-entries.js';
import type { EntryOrder, EntryQuery, HubEntrySource } from './types.js';

export interface EntrySourceUnderTest {
  source: HubEntrySource;
  /** Stores entries; resolved once `query` sees them. */
  add(entries: Entry[]): void | Promise<void>;
  close?(): void | Promise<void>;
}

type Make = () => EntrySourceUnderTest | Promise<EntrySourceUnderTest>;

async function withSource(make: Make, fn: (s: EntrySourceUnderTest) => Promise<void>): Promise<void> {
  const s = await make();
  try {
    await fn(s);
  } finally {
    await s.close?.();
  }
}

/** Pages through a query to its end; `between(pageNo)` runs before each further page. */
async function pageAll(source: HubEntrySource, q: EntryQuery, between: (page: number) => void | Promise<void> = () => {}): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const res = source.query(cursor === undefined ? q : { ...q, cursor });
    ids.push(...res.entries.map((e) => e.id));
    if (res.cursor === undefined) return ids;
    cursor = res.cursor;
    await between(page);
  }
  throw new Error('paging did not end');
}

/** Ids in (timestamp, id) order. */
function ordered(entries: Entry[], order: EntryOrder): string[] {
  const sorted = [...entries].sort((a, b) => a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return (order === 'asc' ? sorted : sorted.reverse()).map((e) => e.id);
}

export function runEntrySourceConformance(name: string, make: Make): void {
  describe(`HubEntrySource conformance: ${name}`, () => {
    test('get returns the stored entry, undefined for an unknown id', () =>
      withSource(make, async ({ source, add }) => {
        const e = testEntry(7, { status: 404 });
        await add([e]);
        assert.deepEqual(source.get(e.id), e);
        assert.equal(source.get('node-a/000000000999-0'), undefined);
      }));

    for (const order of ['asc', 'desc'] as const) {
      test(`pages of 7 cover every entry once, in (timestamp, id) ${order} order, ties included`, () =>
        withSource(make, async ({ source, add }) => {
          // Entries 0–29 on 10 distinct timestamps: three share each one.
          const all = Array.from({ length: 30 }, (_, n) => testEntry(n, { timestamp: 1_700_000_000_000 + Math.floor(n / 3) * 1000 }));
          await add(all);
          assert.deepEqual(await pageAll(source, { limit: 7, order }), ordered(all, order));
        }));

      test(`paging ${order} is stable while entries are added before, among and after the pages`, () =>
        withSource(make, async ({ source, add }) => {
          const first = Array.from({ length: 20 }, (_, n) => testEntry(n * 2)); // even numbers: gaps between them
          await add(first);
          let extra = 1000;
          const seen = await pageAll(source, { limit: 3, order }, async (page) => {
            // Newer than all, older than all, and between stored ones (odd numbers).
            const added = [testEntry(extra++, { timestamp: 1_800_000_000_000 + page }), testEntry(extra++, { timestamp: 1_600_000_000_000 + page }), testEntry(page * 2 + 1)];
            await add(added);
          });
          assert.equal(new Set(seen).size, seen.length, 'an entry came twice');
          for (const e of first) assert.ok(seen.includes(e.id), `${e.id} was skipped`);
          // What was returned is still in order: no page went back.
          const stored = seen.map((id) => source.get(id)!);
          assert.deepEqual(seen, ordered(stored, order));
        }));
    }

    test('from is inclusive, to exclusive', () =>
      withSource(make, async ({ source, add }) => {
        const all = Array.from({ length: 10 }, (_, n) => testEntry(n));
        await add(all);
        const res = source.query({ from: all[2].timestamp, to: all[5].timestamp, order: 'asc', limit: 100 });
        assert.deepEqual(
          res.entries.map((e) => e.id),
          [all[2].id, all[3].id, all[4].id],
        );
        assert.equal(res.cursor, undefined);
      }));

    test('KFL selects exactly the matching entries', () =>
      withSource(make, async ({ source, add }) => {
        const all = Array.from({ length: 12 }, (_, n) => testEntry(n, { status: n % 4 === 0 ? 500 : 200, protocol: n % 3 === 0 ? 'dns' : 'http' }));
        await add(all);
        const got = source.query({ kfl: 'http and response.status == 500', order: 'asc', limit: 100 }).entries.map((e) => e.id);
        // n % 4 == 0 and n % 3 != 0: 4 and 8.
        assert.deepEqual(got, [all[4].id, all[8].id]);
      }));

    test('a bad KFL query throws KflError with its span', () =>
      withSource(make, async ({ source }) => {
        assert.throws(
          () => source.query({ kfl: 'http and', limit: 10 }),
          (err: unknown) => err instanceof KflError && err.code === 'kfl.expected_value' && err.span.start === 8 && err.span.end === 8,
        );
      }));

    test('a cursor it did not make throws code store.bad_cursor', () =>
      withSource(make, async ({ source, add }) => {
        await add([testEntry(1)]);
        assert.throws(() => source.query({ cursor: 'not-a-cursor', limit: 10 }), (err: unknown) => (err as { code?: string }).code === 'store.bad_cursor');
      }));
  });
}
