/**
 * Test helper (not part of the API): writes numbered packets into a ring at `argv[2]`
 * until killed. After `argv[3]` packets it flushes and prints "flushed N", then keeps
 * writing, so the parent can SIGKILL it in the middle of a segment.
 */
import { openPacketRing } from './ring.js';
import { numberedPacket } from './test-traffic.js';

const dir = process.argv[2]!;
const announceAt = Number(process.argv[3] ?? 2000);
const ring = openPacketRing({ dir, maxBytes: 64 << 20, maxAgeSec: 1e9, segmentBytes: 1 << 20, bufferBytes: 4096, flushIntervalMs: 0 });
let i = 0;
for (;;) {
  ring.write(numberedPacket(i));
  i++;
  if (i === announceAt) {
    ring.flush();
    process.stdout.write(`flushed ${i}\n`);
  }
  // Let the parent's signal in now and then; stop on our own after a long while if no one does.
  if (i % 5000 === 0) await new Promise((r) => setImmediate(r));
  if (i > 5_000_000) break;
}
