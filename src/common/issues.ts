/**
 * Bad traffic is data: every odd thing a stage sees becomes an issue code
 * (`layer.snake_case`) that is counted here, and, where an entry exists, recorded on it.
 */
export class IssueCounter {
  readonly counts = new Map<string, number>();

  count(code: string, n = 1): void {
    this.counts.set(code, (this.counts.get(code) ?? 0) + n);
  }

  get(code: string): number {
    return this.counts.get(code) ?? 0;
  }

  /** Issue codes and their counts, sorted by code. */
  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const code of [...this.counts.keys()].sort()) out[code] = this.counts.get(code)!;
    return out;
  }

  merge(other: IssueCounter | Record<string, number>): void {
    const entries = other instanceof IssueCounter ? other.counts.entries() : Object.entries(other);
    for (const [code, n] of entries) this.count(code, n);
  }
}
