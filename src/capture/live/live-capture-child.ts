/**
 * A child process for live-capture.test.ts, so the test can run capture code with
 * fewer privileges (capsh) or without the addon (TAPLINE_PCAP_ADDON pointing nowhere)
 * than the test itself has. Prints one JSON line.
 *
 *   live-capture-child open   opens a capture on `lo` and stops it
 *   live-capture-child exit   opens a capture on `lo`, makes traffic, and exits the
 *                             process from inside onBatch without stopping
 */
import { createSocket } from 'node:dgram';
import { openLiveCapture, missingCaptureCapabilities, LiveCaptureError } from './index.js';

const mode = process.argv[2] ?? 'open';
const out: Record<string, unknown> = { missing: missingCaptureCapabilities() };
try {
  if (mode === 'exit') {
    openLiveCapture({
      interfaces: ['lo'],
      filter: 'udp port 9',
      flushMs: 1,
      onBatch(batch) {
        process.stdout.write(JSON.stringify({ ok: true, batchBytes: batch.length }) + '\n');
        // The capture thread is still running: the addon's exit hook must stop it cleanly.
        process.exit(0);
      },
      onError() {},
    });
    const sock = createSocket('udp4');
    const timer = setInterval(() => sock.send(Buffer.alloc(32), 9, '127.0.0.1'), 5);
    timer.unref();
  } else {
    const cap = openLiveCapture({ interfaces: ['lo'], onBatch() {}, onError() {} });
    await cap.stop();
    out.ok = true;
    process.stdout.write(JSON.stringify(out) + '\n');
  }
} catch (e) {
  out.ok = false;
  out.name = (e as Error).name;
  out.code = e instanceof LiveCaptureError ? e.code : undefined;
  out.interfaceName = e instanceof LiveCaptureError ? e.interfaceName : undefined;
  out.message = (e as Error).message;
  process.stdout.write(JSON.stringify(out) + '\n');
}
