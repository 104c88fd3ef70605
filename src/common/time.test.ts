import { test } from 'node:test';
import assert from 'node:assert/strict';
import { elapsedMillis, toMillis, toRfc3339Nanos } from './time.js';

test('RFC 3339 with nine fractional digits, right across second changes', () => {
  assert.equal(toRfc3339Nanos(1678675066, 172360504), '2023-03-13T02:37:46.172360504Z');
  assert.equal(toRfc3339Nanos(1678675066, 5), '2023-03-13T02:37:46.000000005Z');
  assert.equal(toRfc3339Nanos(1678675067, 0), '2023-03-13T02:37:47.000000000Z');
  assert.equal(toRfc3339Nanos(0, 999999999), '1970-01-01T00:00:00.999999999Z');
  assert.equal(toRfc3339Nanos(1678675066, 1), '2023-03-13T02:37:46.000000001Z');
});

test('milliseconds from (sec, nsec) pairs', () => {
  assert.equal(toMillis(1678675066, 172360504), 1678675066172.3606);
  assert.equal(elapsedMillis(10, 999_000_000, 11, 1_000_000), 2);
  assert.equal(elapsedMillis(10, 0, 10, 500), 0.0005);
});
