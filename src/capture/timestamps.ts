/**
 * Turning a capture's 64-bit timestamp (a count of units since the epoch, as two
 * 32-bit words) into seconds + nanoseconds without ever rounding.
 *
 * A nanosecond pcapng timestamp of today (~1.7e18) is far above 2^53, so `hi * 2^32 + lo`
 * as a double would lose the last digits. Instead the division by the unit count is
 * done as long division in 16-bit steps, which keeps every intermediate below 2^53 for
 * any unit count below 2^37 (every resolution a real capture uses); anything finer falls
 * back to BigInt.
 */

const TWO_32 = 4294967296;
/** Largest unit count for which the 16-bit long division stays exact (remainder * 2^16 < 2^53). */
const MAX_FAST_UNITS = 2 ** 37;

/** How one interface's timestamps become (sec, nsec): fixed when the interface is described. */
export class TimestampScale {
  /** Units per second (1e6 for µs, 1e9 for ns, 2^20 for if_tsresol 0x94, …). */
  readonly unitsPerSec: number;
  /** Seconds added to every timestamp (pcapng if_tsoffset). */
  readonly offsetSec: number;
  private readonly fast: boolean;
  /** When unitsPerSec divides 1e9: nsec = remainder * nsecPerUnit, exactly. */
  private readonly nsecPerUnit: number;
  private readonly bigUnits: bigint;

  /** Results of the last `convert` call (read right after it; one object per interface). */
  sec = 0;
  nsec = 0;

  constructor(unitsPerSec: number | bigint, offsetSec = 0) {
    this.bigUnits = BigInt(unitsPerSec);
    this.unitsPerSec = Number(unitsPerSec);
    this.offsetSec = offsetSec;
    this.fast = this.bigUnits < BigInt(MAX_FAST_UNITS);
    this.nsecPerUnit = this.fast && 1e9 % this.unitsPerSec === 0 ? 1e9 / this.unitsPerSec : 0;
  }

  /** Sets `sec` and `nsec` from a timestamp given as its high and low 32-bit words (unsigned). */
  convert(hi: number, lo: number): void {
    if (!this.fast) return this.convertBig(hi, lo);
    const u = this.unitsPerSec;
    let sec: number;
    let rem: number;
    if (hi < 0x200000) {
      // The whole count is below 2^53: one exact double, one division, one correction
      // for the case where the quotient rounded up.
      const ts = hi * TWO_32 + lo;
      sec = Math.floor(ts / u);
      rem = ts - sec * u;
      if (rem < 0) {
        sec -= 1;
        rem += u;
      }
    } else {
      // Long division of hi:lo by u, high word first, then the low word in two 16-bit digits.
      const qh = Math.floor(hi / u);
      const rh = hi - qh * u;
      const m = rh * 65536 + (lo >>> 16);
      const q1 = Math.floor(m / u);
      const r1 = m - q1 * u;
      const n = r1 * 65536 + (lo & 0xffff);
      const q2 = Math.floor(n / u);
      rem = n - q2 * u;
      sec = qh * TWO_32 + q1 * 65536 + q2;
    }
    this.sec = sec + this.offsetSec;
    if (this.nsecPerUnit !== 0) {
      this.nsec = rem * this.nsecPerUnit;
    } else {
      // Fractions of a second are truncated, not rounded (as Wireshark does).
      const scaled = rem * 1e9;
      if (scaled <= Number.MAX_SAFE_INTEGER) {
        let q = Math.floor(scaled / u);
        if (q * u > scaled) q -= 1;
        this.nsec = q;
      } else {
        this.nsec = Number((BigInt(rem) * 1_000_000_000n) / this.bigUnits);
      }
    }
  }

  private convertBig(hi: number, lo: number): void {
    const ts = (BigInt(hi) << 32n) | BigInt(lo);
    const sec = ts / this.bigUnits;
    const rem = ts % this.bigUnits;
    this.sec = Number(sec) + this.offsetSec;
    this.nsec = Number((rem * 1_000_000_000n) / this.bigUnits);
  }
}

/**
 * Units per second for a pcapng if_tsresol value.
 *
 * pcapng §4.2: "If the Most Significant Bit is equal to zero, the remaining bits
 * indicates the resolution of the timestamp as a negative power of 10 ... If the Most
 * Significant Bit is equal to one, the remaining bits indicates the resolution as
 * negative power of 2".
 */
export function unitsForTsresol(value: number): bigint {
  const exp = BigInt(value & 0x7f);
  return value & 0x80 ? 1n << exp : 10n ** exp;
}
