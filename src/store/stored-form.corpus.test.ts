/**
 * What the tap stores reads back as what the parser makes when it decodes everything at
 * once: every capture of the tcpdump corpus and the protocol fixtures, parsed with the
 * tap's settings (gzip bodies deferred, body texts kept as bytes, DNS records kept as
 * their messages), packed by encodeRows as its dissection threads do and read back by
 * decodeEntries, against the same capture parsed with every setting off. The oracle is
 * the eager parser's own output, which the protocol tests hold to tshark.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { corpusCaptures } from '../../test/support/paths.js';
import { readCaptureFile } from '../capture/index.js';
import type { Entry } from '../entries/index.js';
import { createPipeline } from '../pipeline/index.js';
import { defaultParserSettings, storeParserSettings, type ParserSettings } from '../protocols/types.js';
import { fixtureDir } from './bench.js';
import { decodeEntries, encodeRows, storedForm } from './schema.js';
import { wireOf } from '../protocols/dns/wire.js';
import { HEAD_KEYS, headOf } from '../protocols/http/kept-head.js';
import { stringsOf } from './test-support.js';

const TAP = storeParserSettings;

async function entriesOf(file: string, settings: Partial<ParserSettings>): Promise<Entry[] | null> {
  const out: Entry[] = [];
  const p = createPipeline({ nodeName: 'corpus', settings: { ...defaultParserSettings, ...settings }, onEntry: (e) => out.push(e) });
  try {
    await readCaptureFile(file, (pk) => p.push(pk));
  } catch {
    // A capture the reader refuses (src/capture has its own tests for those): nothing to compare.
    return null;
  }
  p.finish();
  return out;
}

/** The entries of `file` read back from the rows the tap would store, packed a few at a time. */
function storedAndRead(entries: Entry[]): Entry[] {
  const back: Entry[] = [];
  for (let i = 0; i < entries.length; i += 7) back.push(...decodeEntries(encodeRows(entries.slice(i, i + 7))));
  return back;
}

const files = [
  join(fixtureDir, 'http/fixtures/nginx.pcap'),
  join(fixtureDir, 'dns/fixtures/dns-dnsmasq.pcap'),
  ...corpusCaptures(),
];

test('every stored entry of every corpus capture reads back as the eager parser makes it', async () => {
  let compared = 0;
  let dnsAsMessages = 0;
  let httpHeads = 0;
  for (const file of files) {
    const eager = await entriesOf(file, {});
    const tap = await entriesOf(file, TAP);
    if (eager === null || tap === null) continue;
    assert.equal(tap.length, eager.length, file);
    for (const e of tap) {
      for (const side of ['request', 'response'] as const) {
        if (headOf(e[side]) === undefined) continue;
        // The texts of the fields made from the head are in the stored bytes: as they are
        // in the head (latin1), or among the texts written beside it.
        httpHeads++;
        const stored = storedForm(e) as Buffer;
        const record = JSON.parse(JSON.stringify(e[side])) as Record<string, unknown>;
        for (const k of HEAD_KEYS[side]) {
          for (const t of stringsOf(record[k])) {
            assert.ok(stored.includes(Buffer.from(t, 'latin1')) || stored.includes(Buffer.from(t, 'utf8')), `${file}: ${side}.${k}: ${JSON.stringify(t)} is in the stored bytes`);
          }
        }
      }
      if (wireOf(e.request) === undefined && wireOf(e.response) === undefined) continue;
      dnsAsMessages++;
      // Every text of the entry's JSON is in the stored bytes, where storedFormHas looks for KFL's literals.
      const stored = storedForm(e) as Buffer;
      for (const t of stringsOf(JSON.parse(JSON.stringify(e)))) assert.ok(stored.includes(Buffer.from(t, 'utf8')), `${file}: ${JSON.stringify(t)} is in the stored bytes`);
    }
    const back = storedAndRead(tap);
    for (let i = 0; i < eager.length; i++) {
      const want: string = JSON.stringify(eager[i]);
      const got: string = JSON.stringify(back[i]);
      // Deferred bodies are decoded into the fields the parser sets, not always in its key order.
      if (got !== want) assert.deepEqual(JSON.parse(got), JSON.parse(want), `${file}: entry ${i}`);
      if (eager[i]!.protocol.name === 'dns') assert.equal(got, want, `${file}: DNS entry ${i}, byte for byte`);
      if (headOf(tap[i]!.request) !== undefined && !JSON.stringify(tap[i]).includes('"deferred"')) assert.equal(got, want, `${file}: HTTP entry ${i}, byte for byte`);
      compared++;
    }
  }
  // The corpus is fixed: 84 entries, 71 of them DNS stored as messages (many of them crafted oddities).
  assert.ok(compared >= 80, `entries compared: ${compared}`);
  assert.ok(dnsAsMessages >= 60, `DNS entries stored as their messages: ${dnsAsMessages}`);
  assert.ok(httpHeads >= 10, `HTTP heads kept: ${httpHeads}`);
});
