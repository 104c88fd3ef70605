/** Set-ups the store's tests share: a temporary folder, a store opened in it, both cleaned up. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEntryStore, type EntryStore, type EntryStoreOptions } from './store.js';

/** Runs `body` with a fresh temporary folder, removed afterwards whatever happened. */
export async function inTempDir<T>(body: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tapline-store-test-'));
  try {
    return await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `body` with a store opened with `opts` in `dir`, and closes it afterwards whatever happened. */
export async function withStoreIn<T>(dir: string, opts: Omit<EntryStoreOptions, 'dir'>, body: (store: EntryStore) => T | Promise<T>): Promise<T> {
  const store = openEntryStore({ ...opts, dir });
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/** Runs `body` with a store opened with `opts` in a fresh temporary folder; closes it and removes the folder afterwards. */
export function withStore<T>(opts: Omit<EntryStoreOptions, 'dir'>, body: (store: EntryStore, dir: string) => T | Promise<T>): Promise<T> {
  return inTempDir((dir) => withStoreIn(dir, opts, (store) => body(store, dir)));
}

/** Every string in a JSON value (values only, not keys), in the order met. */
export function stringsOf(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) stringsOf(x, out);
  else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) stringsOf(x, out);
  return out;
}
