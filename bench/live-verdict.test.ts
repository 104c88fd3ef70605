import assert from 'node:assert/strict';
import { test } from 'node:test';
import { liveVerdict } from './live-verdict.js';

const target = 0.5;

test('both edges measured: the ratio decides', () => {
  const met = liveVerdict({ pps: 480_000, atLeast: false }, { pps: 900_000, atLeast: false }, target);
  assert.equal(met.bound, 'measured');
  assert.equal(met.met, true);
  assert.equal(met.ratio, 480_000 / 900_000);
  assert.match(met.text, /^0\.53; target >= 0\.5: met$/);
  const missed = liveVerdict({ pps: 440_000, atLeast: false }, { pps: 900_000, atLeast: false }, target);
  assert.equal(missed.met, false);
  assert.match(missed.text, /^0\.49; target >= 0\.5: MISSED$/);
  // A miss that two decimals would round up to the target shows four.
  assert.match(liveVerdict({ pps: 449_600, atLeast: false }, { pps: 900_000, atLeast: false }, target).text, /^0\.4996; target >= 0\.5: MISSED$/);
});

test('tcpdump only bounded below: the ratio is at most, so it can miss but never meet', () => {
  const under = liveVerdict({ pps: 451_926, atLeast: false }, { pps: 953_549, atLeast: true }, target);
  assert.equal(under.bound, 'at most');
  assert.equal(under.met, false);
  assert.match(under.text, /^at most 0\.47; target >= 0\.5: MISSED; tcpdump lost nothing/);
  const over = liveVerdict({ pps: 491_744, atLeast: false }, { pps: 965_114, atLeast: true }, target);
  assert.equal(over.bound, 'at most');
  assert.equal(over.met, null);
  assert.match(over.text, /^at most 0\.51; target >= 0\.5: NOT SHOWN by this run; tcpdump lost nothing/);
});

test('the tap only bounded below: the ratio is at least, so it can meet but never miss', () => {
  const over = liveVerdict({ pps: 500_000, atLeast: true }, { pps: 900_000, atLeast: false }, target);
  assert.equal(over.bound, 'at least');
  assert.equal(over.met, true);
  const under = liveVerdict({ pps: 400_000, atLeast: true }, { pps: 900_000, atLeast: false }, target);
  assert.equal(under.met, null);
  assert.match(under.text, /^at least 0\.44; target >= 0\.5: NOT SHOWN by this run; the tap lost nothing/);
});

test('both bounded below: no verdict either way', () => {
  for (const tapPps of [300_000, 600_000]) {
    const v = liveVerdict({ pps: tapPps, atLeast: true }, { pps: 950_000, atLeast: true }, target);
    assert.equal(v.bound, 'neither');
    assert.equal(v.met, null);
    assert.match(v.text, /a ratio of two lower bounds\); target >= 0\.5: NOT SHOWN by this run; tcpdump lost nothing.*; the tap lost nothing/);
  }
});

test('a figure of 0 is refused, not divided by', () => {
  assert.throws(() => liveVerdict({ pps: 0, atLeast: false }, { pps: 900_000, atLeast: false }, target), /both figures must be above 0 \(tap 0, tcpdump 900000\)/);
  assert.throws(() => liveVerdict({ pps: 480_000, atLeast: false }, { pps: 0, atLeast: true }, target), RangeError);
});
