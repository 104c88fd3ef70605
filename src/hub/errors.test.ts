import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { join } from 'node:path';
import { repoRoot } from '../../test/support/paths.js';
import { hubErrorCodes } from './errors.js';
import { hubMetricNames, tapMetricNames } from './metrics.js';

// From the source tree, so the test reads the same file from src/ and dist/.
const readme = readFileSync(join(repoRoot, 'src', 'hub', 'README.md'), 'utf8');

/** Rows of the markdown table under `## heading`: first cell (without backticks) → the other cells. */
function tableRows(heading: string): Map<string, string[]> {
  const section = readme.split(/^## /m).find((s) => s.startsWith(heading + '\n'));
  assert.ok(section, `README has no section ${heading}`);
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const m = /^\| `([^`]+)` \|(.*)\|$/.exec(line);
    if (m) rows.set(m[1], m[2].split('|').map((c) => c.trim()));
  }
  return rows;
}

describe('the README agrees with the code', () => {
  test('error codes and statuses', () => {
    const rows = tableRows('Errors');
    assert.deepEqual([...rows.keys()].sort(), Object.keys(hubErrorCodes).sort());
    for (const [code, [status]] of rows) {
      const want = code.startsWith('hub.') ? '—' : String(hubErrorCodes[code as keyof typeof hubErrorCodes].status);
      assert.equal(status, want, code);
    }
  });

  test('metric names and types', () => {
    const rows = tableRows('Metrics');
    assert.deepEqual([...rows.keys()].sort(), [...tapMetricNames, ...hubMetricNames].sort());
    for (const [name, [type]] of rows) assert.equal(type, name.endsWith('_total') ? 'counter' : 'gauge', name);
  });
});
