/**
 * Test support, run as a child process.
 *
 * `read-capture-child -`: reads a capture from standard input with readCaptureFile('-')
 * and prints one JSON line {"file": "-", packets, error, issues, summary} (read-file.test.ts).
 *
 * `read-capture-child`: for corpus-oracle.test.ts, which can stop it when one file takes
 * too long (a hang would block a test's own thread for good). Reads the capture files
 * named on standard input (one JSON array of paths) and prints one JSON line per file,
 * as soon as that file is done:
 *   {"file": path, "packets": [[tsSec, tsNsec, origLen, capLen, interfaceId, linkType, data.length, recordOffset, hex], …],
 *    "error": {"code", "offset", "message"} | null, "issues": {code: count}}
 */
import { IssueCounter } from '../common/index.js';
import { readCaptureFile } from './read-file.js';
import { CaptureFileError, type CaptureSummary } from './types.js';

async function readOne(file: string): Promise<object> {
  const packets: (number | string)[][] = [];
  let error: { code: string; offset: number; message: string } | null = null;
  const issues = new IssueCounter();
  let summary: CaptureSummary | null = null;
  try {
    summary = await readCaptureFile(
      file,
      (p) => {
        packets.push([p.tsSec, p.tsNsec, p.origLen, p.capLen, p.interfaceId, p.linkType, p.data.length, p.recordOffset, p.data.toString('hex')]);
      },
      { issues },
    );
  } catch (err) {
    if (!(err instanceof CaptureFileError)) throw err;
    error = { code: err.code, offset: err.offset, message: err.message };
  }
  return { file, packets, error, issues: issues.toJSON(), summary };
}

async function main(): Promise<void> {
  if (process.argv[2] === '-') {
    process.stdout.write(JSON.stringify(await readOne('-')) + '\n');
    return;
  }
  let input = '';
  for await (const chunk of process.stdin) input += String(chunk);
  const files = JSON.parse(input) as string[];
  for (const file of files) {
    process.stdout.write(JSON.stringify({ start: file }) + '\n');
    process.stdout.write(JSON.stringify(await readOne(file)) + '\n');
  }
}

await main();
