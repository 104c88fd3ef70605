import { readCaptureFile } from '../capture/index.js';
import type { RawPacket } from '../capture/types.js';
import type { DecodedPacket } from '../decode/types.js';
import { createDecoder, flowHashAt, flowHashOf } from '../decode/index.js';
import { BatchWriter } from './packet-codec.js';

export interface DispatchBench {
  packets: number;
  /** Seconds for the whole file, reading included. */
  decodedSeconds: number;
  rawSeconds: number;
  /** Seconds just to read the file's packets (the floor of both). */
  readSeconds: number;
}

/**
 * The serial part of parallel dissection, alone on this thread: reading the capture and
 * handing every packet to one of `lanes` batches, (a) decoded here, (b) as raw frames
 * with only the flow peeked (createParallelPipeline's two ways). Batches are dropped
 * instead of sent, so this is what the handing-out thread can feed at most.
 */
export async function benchDispatch(file: string, lanes = 4): Promise<DispatchBench> {
  let packets = 0;
  const t0 = performance.now();
  await readCaptureFile(file, () => packets++);
  const readSeconds = (performance.now() - t0) / 1000;

  const writers = Array.from({ length: lanes }, () => new BatchWriter(256 * 1024));
  /** As the pipeline's enqueue: decoded when `d` is given, else raw; a full batch is taken (and dropped) first. */
  const enqueue = (w: BatchWriter, p: RawPacket, d: DecodedPacket | null): void => {
    if (d === null ? w.appendRaw(p) : w.append(d)) return;
    w.take();
    if (d === null) w.appendRaw(p);
    else w.append(d);
  };
  const decoder = createDecoder();
  const t1 = performance.now();
  await readCaptureFile(file, (p) => {
    const d = decoder.decode(p);
    if (d !== null) enqueue(writers[Math.max(0, flowHashOf(d)) % lanes]!, p, d);
  });
  const decodedSeconds = (performance.now() - t1) / 1000;

  const slow = createDecoder();
  const t2 = performance.now();
  await readCaptureFile(file, (p) => {
    const hash = flowHashAt(p.data, 0, p.data.length, p.linkType);
    if (hash >= 0) return enqueue(writers[hash % lanes]!, p, null);
    const d = slow.decode(p);
    if (d !== null) enqueue(writers[Math.max(0, flowHashOf(d)) % lanes]!, p, d);
  });
  const rawSeconds = (performance.now() - t2) / 1000;
  return { packets, decodedSeconds, rawSeconds, readSeconds };
}
