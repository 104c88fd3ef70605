import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TimestampScale, unitsForTsresol } from './timestamps.js';

/** The reference: exact BigInt arithmetic, fractions truncated. */
function reference(ts: bigint, units: bigint, offsetSec: number): [number, number] {
  return [Number(ts / units) + offsetSec, Number(((ts % units) * 1_000_000_000n) / units)];
}

/** A deterministic stream of 32-bit words (xorshift), so failures reproduce. */
function words(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

test('if_tsresol: negative powers of 10 and (with the top bit) of 2', () => {
  assert.equal(unitsForTsresol(6), 1_000_000n);
  assert.equal(unitsForTsresol(9), 1_000_000_000n);
  assert.equal(unitsForTsresol(0x94), 1_048_576n);
  assert.equal(unitsForTsresol(0x80 | 40), 1n << 40n);
  assert.equal(unitsForTsresol(12), 10n ** 12n);
});

test('timestamps convert exactly for every resolution, against BigInt arithmetic', () => {
  const next = words(0x9e3779b9);
  // µs, ns, ms, 2^-20, 2^-23, 2^-30 (nsec needs BigInt), 2^-40 and 10^-12 (whole BigInt path), 1 s, 7 units.
  const unitsList = [1_000_000n, 1_000_000_000n, 1000n, 1n << 20n, 1n << 23n, 1n << 30n, 1n << 40n, 10n ** 12n, 1n, 7n];
  for (const units of unitsList) {
    for (const offsetSec of [0, 1_000_000_000, -3600]) {
      const scale = new TimestampScale(units, offsetSec);
      const samples: bigint[] = [0n, 1n, units - 1n, units, (1n << 53n) - 1n, 1n << 53n, (1n << 64n) - 1n, 1_700_000_000_987_654_321n];
      for (let i = 0; i < 2000; i++) {
        // Mostly realistic magnitudes (hi below 2^29), some anywhere in 64 bits.
        const hi = i % 4 === 0 ? next() : next() >>> 3;
        samples.push((BigInt(hi) << 32n) | BigInt(next()));
      }
      for (const ts of samples) {
        scale.convert(Number(ts >> 32n), Number(ts & 0xffffffffn));
        const [sec, nsec] = reference(ts, units, offsetSec);
        // Seconds above 2^53 cannot be exact in a number; those come only from absurd 64-bit values.
        if (Math.abs(sec) > Number.MAX_SAFE_INTEGER) continue;
        assert.deepEqual([scale.sec, scale.nsec], [sec, nsec], `ts ${ts} in units of 1/${units} s`);
      }
    }
  }
});

test('a nanosecond timestamp above 2^53 keeps its last digit', () => {
  const scale = new TimestampScale(1_000_000_000);
  const ts = 1_700_000_000_123_456_789n;
  scale.convert(Number(ts >> 32n), Number(ts & 0xffffffffn));
  assert.deepEqual([scale.sec, scale.nsec], [1_700_000_000, 123_456_789]);
});
