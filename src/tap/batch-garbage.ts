/**
 * Live batches the capture thread is done with but did not hand on (dissection had no
 * room, or several dissection threads got copies of their packets) are garbage: 1 MiB
 * each, outside V8's heap, freed only by a collection. This thread makes little other
 * garbage since it stopped making an object per packet, so under a flood such batches
 * piled up until V8's external-memory limit started a collection: the flood benchmark's
 * peak RSS went from 472 MiB (session 5) to 489–500 MiB. A young-generation collection
 * after every `thresholdBytes` of them frees them: peak 477 MiB. `collect` is V8's `gc`,
 * exposed to the tap's threads (src/cli/main.ts); without it (null) this does nothing.
 */
export interface BatchGarbage {
  /** A batch of `bytes` became garbage. */
  add(bytes: number): void;
  /** Collections started so far. */
  readonly collections: number;
}

type Collect = (options?: { type?: 'minor' | 'major' }) => void;

export const BATCH_GARBAGE_BYTES = 16 << 20;

export function batchGarbage(collect: Collect | null = (globalThis as { gc?: Collect }).gc ?? null, thresholdBytes = BATCH_GARBAGE_BYTES): BatchGarbage {
  let pending = 0;
  let collections = 0;
  return {
    add(bytes) {
      if (collect === null) return;
      pending += bytes;
      if (pending < thresholdBytes) return;
      pending = 0;
      collections++;
      collect({ type: 'minor' });
    },
    get collections() {
      return collections;
    },
  };
}
