/**
 * Time inside the packet path is a pair of numbers, seconds since the epoch and
 * nanoseconds within that second, so nanosecond captures keep every digit
 * (a single double holding nanoseconds since 1970 would not).
 */

/** Milliseconds since the epoch (fractional), for durations and `entry.timestamp`. */
export function toMillis(sec: number, nsec: number): number {
  return sec * 1000 + nsec / 1e6;
}

/** Milliseconds from (sec1, nsec1) to (sec2, nsec2). */
export function elapsedMillis(sec1: number, nsec1: number, sec2: number, nsec2: number): number {
  return (sec2 - sec1) * 1000 + (nsec2 - nsec1) / 1e6;
}

/** RFC 3339 with nine fractional digits, e.g. `2023-03-13T02:37:46.172360504Z`. */
export function toRfc3339Nanos(sec: number, nsec: number): string {
  if (sec !== lastSec) {
    lastSec = sec;
    lastPrefix = new Date(sec * 1000).toISOString().slice(0, 19) + '.'; // 2023-03-13T02:37:46.
  }
  return lastPrefix + String(nsec).padStart(9, '0') + 'Z';
}

// Entries come in bursts within the same second: the date part is made once per second.
let lastSec = NaN;
let lastPrefix = '';
